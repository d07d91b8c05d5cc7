//! Acme's endpoints as operation values: each builds its request (after `validate.rs`) and maps
//! its answer (through `response.rs`); [`AcmeClient::execute`] sends any of them.

use account_updater::provider::CardToUpdate;
use account_updater::transport::{
    ApiRequest, ApiResponse, Endpoint, Method, Operation, PathSegment,
};
use account_updater::{ExpiryFormat, ExposeSecret, Result};

use super::client::AcmeClient;
use super::response::decode_response;
use super::validate::card_for_inquiry;
use super::wire::{Created, Inquiry, InquiryBody, Results, WireCard};

const CREATE_INQUIRY: Endpoint<0> = Endpoint::new(Method::POST, "/v1/inquiries");
const INQUIRY: Endpoint<1> = Endpoint::new(Method::GET, "/v1/inquiries/{inquiryId}");
const RESULTS: Endpoint<1> = Endpoint::new(Method::GET, "/v1/inquiries/{inquiryId}/results");

/// `POST /v1/inquiries`: card numbers to inquire about.
pub(super) struct CreateInquiry<'a> {
    /// The cards (card numbers with expiries; Acme takes no tokens).
    pub(super) cards: &'a [CardToUpdate],
}

impl Operation<AcmeClient> for CreateInquiry<'_> {
    type Output = Created;

    fn build_request(&self, _: &AcmeClient) -> Result<ApiRequest> {
        let mut cards = Vec::with_capacity(self.cards.len());
        for card in self.cards {
            let (pan, expiry) = card_for_inquiry(card)?;
            cards.push(WireCard {
                r#ref: &card.id,
                pan: pan.expose_secret(),
                exp: expiry.format(ExpiryFormat::Mmyy),
            });
        }
        Ok(CREATE_INQUIRY.request([]).json(&InquiryBody { cards }))
    }

    fn map_response(&self, _: &AcmeClient, response: ApiResponse) -> Result<Created> {
        decode_response(&response)
    }
}

/// `GET /v1/inquiries/{inquiryId}`: an inquiry's state.
pub(super) struct GetInquiry<'a> {
    /// The inquiry.
    pub(super) inquiry_id: &'a str,
}

impl Operation<AcmeClient> for GetInquiry<'_> {
    type Output = Inquiry;

    fn build_request(&self, _: &AcmeClient) -> Result<ApiRequest> {
        Ok(INQUIRY.request([&PathSegment::new("inquiry_id", self.inquiry_id)?]))
    }

    fn map_response(&self, _: &AcmeClient, response: ApiResponse) -> Result<Inquiry> {
        decode_response(&response)
    }
}

/// `GET /v1/inquiries/{inquiryId}/results`: a finished inquiry's results.
pub(super) struct GetResults<'a> {
    /// The inquiry.
    pub(super) inquiry_id: &'a str,
}

impl Operation<AcmeClient> for GetResults<'_> {
    type Output = Results;

    fn build_request(&self, _: &AcmeClient) -> Result<ApiRequest> {
        Ok(RESULTS.request([&PathSegment::new("inquiry_id", self.inquiry_id)?]))
    }

    fn map_response(&self, _: &AcmeClient, response: ApiResponse) -> Result<Results> {
        decode_response(&response)
    }
}
