//! Every AccountVault (TabaPay Account API) endpoint as an [`Operation`] value: the endpoint as
//! the v1 / v2 reference writes it, the request it builds (after the input rules of
//! `validate.rs`) and the mapping of its answer, `SC` status included (through `response.rs`).
//! The client's methods are each one [`AccountVaultClient::execute`] of one of these.

use super::client::{AccountVaultClient, DuplicateCheck, carries_encrypted_card};
use super::response::{decode_delete, decode_with_status};
use super::unified::unmodelled_owner_field;
use super::validate;
use super::wire::{self, Account, AccountRef, Created, Key, KeyFormat, Status};
use crate::error::{Error, InputProblem, Result};
use crate::transport::{
    ApiRequest, ApiResponse, Endpoint, Method, Operation, PathSegment, path_segment,
};

// The endpoints, each declared once (TabaPay Account API v1 / v2 reference).
const CREATE_ACCOUNT: Endpoint<1> = Endpoint::new(Method::POST, "/v1/clients/{ClientID}/accounts");
const FIND_ACCOUNT_BY_REFERENCE: Endpoint<1> =
    Endpoint::new(Method::GET, "/v1/clients/{ClientID}/accounts");
const RETRIEVE_ACCOUNT: Endpoint<2> =
    Endpoint::new(Method::GET, "/v1/clients/{ClientID}/accounts/{AccountID}");
const UPDATE_ACCOUNT: Endpoint<2> =
    Endpoint::new(Method::PUT, "/v1/clients/{ClientID}/accounts/{AccountID}");
const UPDATE_ACCOUNT_V2: Endpoint<2> =
    Endpoint::new(Method::PUT, "/v2/clients/{ClientID}/accounts/{AccountID}");
const DELETE_ACCOUNT: Endpoint<2> = Endpoint::new(
    Method::DELETE,
    "/v1/clients/{ClientID}/accounts/{AccountID}",
);
const CREATE_KEY: Endpoint<1> = Endpoint::new(Method::POST, "/v1/clients/{ClientID}/keys");
const RETRIEVE_KEY: Endpoint<2> = Endpoint::new(Method::GET, "/v1/clients/{ClientID}/keys/{KeyID}");
const DELETE_KEY: Endpoint<2> =
    Endpoint::new(Method::DELETE, "/v1/clients/{ClientID}/keys/{KeyID}");

/// `account_id` as the `{AccountID}` segment.
fn account(account_id: &str) -> Result<PathSegment> {
    path_segment("account_id", account_id)
}

/// `POST /v1/clients/{ClientID}/accounts`: stores a card or bank account. A 207 without the
/// account id is a success (the client method then recovers the id by reference id).
#[derive(Debug, Clone, Copy)]
pub struct CreateAccount<'a> {
    /// The account.
    pub account: &'a wire::CreateAccount,
    /// The duplicate-card flag to send.
    pub duplicates: DuplicateCheck,
}

impl Operation<AccountVaultClient> for CreateAccount<'_> {
    type Output = Created;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        let body = self.account;
        validate::reference_id(&body.reference_id)?;
        validate::account_data(body.bank.as_ref(), body.card.as_ref(), true)?;
        validate::owner(&body.owner)?;
        let request = CREATE_ACCOUNT.request([client.client_segment()]).json(body);
        Ok(match self.duplicates {
            DuplicateCheck::Off => request,
            DuplicateCheck::Reject => request.flag("RejectDuplicateCard"),
            DuplicateCheck::Allow => request.flag("OKToAddDuplicateCard"),
        })
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Created> {
        decode_with_status(&response)
    }
}

/// `GET /v1/clients/{ClientID}/accounts/{AccountID}`.
#[derive(Debug, Clone, Copy)]
pub struct RetrieveAccount<'a> {
    /// The account.
    pub account_id: &'a str,
}

impl Operation<AccountVaultClient> for RetrieveAccount<'_> {
    type Output = Account;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        Ok(RETRIEVE_ACCOUNT.request([client.client_segment(), &account(self.account_id)?]))
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Account> {
        decode_with_status(&response)
    }
}

/// [`RetrieveAccount`] for a full replace (v1 update): refused when the stored owner holds a
/// field this crate does not model, which a replace would erase.
pub(super) struct RetrieveAccountForMerge<'a> {
    pub(super) account: RetrieveAccount<'a>,
}

impl Operation<AccountVaultClient> for RetrieveAccountForMerge<'_> {
    type Output = Account;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        self.account.build_request(client)
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Account> {
        let account: Account = decode_with_status(&response)?;
        let raw: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        if let Some(unknown) = unmodelled_owner_field(&raw["owner"]) {
            return Err(Error::invalid(
                "account_id",
                InputProblem::NotAllowed {
                    reason: format!(
                        "the stored owner holds `{unknown}`, which this crate cannot carry over a full replace; update the account with the native client"
                    ),
                },
            ));
        }
        Ok(account)
    }
}

/// `GET /v1/clients/{ClientID}/accounts?referenceID=`: an account by the caller's reference id
/// (valid for 24 hours after creation).
#[derive(Debug, Clone, Copy)]
pub struct RetrieveAccountByReference<'a> {
    /// The `referenceID` given at creation.
    pub reference_id: &'a str,
}

impl Operation<AccountVaultClient> for RetrieveAccountByReference<'_> {
    type Output = AccountRef;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        validate::reference_id(self.reference_id)?;
        Ok(FIND_ACCOUNT_BY_REFERENCE
            .request([client.client_segment()])
            .query("referenceID", self.reference_id))
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<AccountRef> {
        decode_with_status(&response)
    }
}

/// `PUT /v1/clients/{ClientID}/accounts/{AccountID}`: a full replace of the account's data.
/// A request carrying an encrypted card is not repeated on a 5xx (TabaPay answers 500 to a
/// blob it cannot decrypt, every time).
#[derive(Debug, Clone, Copy)]
pub struct UpdateAccount<'a> {
    /// The account.
    pub account_id: &'a str,
    /// The new data.
    pub update: &'a wire::UpdateAccount,
    /// The duplicate-card flag to send (its "allow" spelling is the client's
    /// [`UpdateAllowFlag`](super::UpdateAllowFlag)).
    pub duplicates: DuplicateCheck,
}

impl Operation<AccountVaultClient> for UpdateAccount<'_> {
    type Output = Status;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        let body = self.update;
        validate::account_data(body.bank.as_ref(), body.card.as_ref(), true)?;
        validate::owner(&body.owner)?;
        let mut request = UPDATE_ACCOUNT
            .request([client.client_segment(), &account(self.account_id)?])
            .json(body);
        request = match self.duplicates {
            DuplicateCheck::Off => request,
            DuplicateCheck::Reject => request.flag("RejectDuplicateCard"),
            DuplicateCheck::Allow => request.flag(client.update_allow_flag().as_str()),
        };
        if carries_encrypted_card(body.card.as_ref()) {
            request = request.no_retry_on_server_error();
        }
        Ok(request)
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Status> {
        decode_with_status(&response)
    }
}

/// `PUT /v2/clients/{ClientID}/accounts/{AccountID}`: a partial update of the expiry and the
/// owner; at least one of them.
#[derive(Debug, Clone, Copy)]
pub struct UpdateAccountV2<'a> {
    /// The account.
    pub account_id: &'a str,
    /// What changes.
    pub update: &'a wire::UpdateAccountV2,
}

impl Operation<AccountVaultClient> for UpdateAccountV2<'_> {
    type Output = Status;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        validate::v2_update(self.update)?;
        Ok(UPDATE_ACCOUNT_V2
            .request([client.client_segment(), &account(self.account_id)?])
            .json(self.update))
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Status> {
        decode_with_status(&response)
    }
}

/// `DELETE /v1/clients/{ClientID}/accounts/{AccountID}`, with `?DeleteDuplicateCard` to delete
/// the accounts holding the same card as well.
#[derive(Debug, Clone, Copy)]
pub struct DeleteAccount<'a> {
    /// The account.
    pub account_id: &'a str,
    /// Whether to delete its duplicates too.
    pub delete_duplicates: bool,
}

impl Operation<AccountVaultClient> for DeleteAccount<'_> {
    type Output = Status;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        let request =
            DELETE_ACCOUNT.request([client.client_segment(), &account(self.account_id)?]);
        Ok(if self.delete_duplicates {
            request.flag("DeleteDuplicateCard")
        } else {
            request
        })
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Status> {
        decode_delete(&response)
    }
}

/// `POST /v1/clients/{ClientID}/keys`: a new RSA key for encrypting card data.
#[derive(Debug, Clone, Copy)]
pub struct CreateKey {
    /// The format the public key comes back in.
    pub format: KeyFormat,
}

impl Operation<AccountVaultClient> for CreateKey {
    type Output = Key;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        Ok(CREATE_KEY
            .request([client.client_segment()])
            .json(&wire::CreateKey::new(self.format)))
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Key> {
        decode_with_status(&response)
    }
}

/// `GET /v1/clients/{ClientID}/keys/{KeyID}[?Format=]`. The answer does not repeat the key id:
/// the one asked for is filled in.
#[derive(Debug, Clone, Copy)]
pub struct RetrieveKey<'a> {
    /// The key.
    pub key_id: &'a str,
    /// The format, when not the default.
    pub format: Option<KeyFormat>,
}

impl Operation<AccountVaultClient> for RetrieveKey<'_> {
    type Output = Key;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        let key = path_segment("key_id", self.key_id)?;
        let request = RETRIEVE_KEY.request([client.client_segment(), &key]);
        Ok(match self.format {
            Some(format) => request.query("Format", format.as_str()),
            None => request,
        })
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Key> {
        let mut key: Key = decode_with_status(&response)?;
        key.key_id.get_or_insert_with(|| self.key_id.to_owned());
        Ok(key)
    }
}

/// `DELETE /v1/clients/{ClientID}/keys/{KeyID}`.
#[derive(Debug, Clone, Copy)]
pub struct DeleteKey<'a> {
    /// The key.
    pub key_id: &'a str,
}

impl Operation<AccountVaultClient> for DeleteKey<'_> {
    type Output = Status;

    fn build_request(&self, client: &AccountVaultClient) -> Result<ApiRequest> {
        let key = path_segment("key_id", self.key_id)?;
        Ok(DELETE_KEY.request([client.client_segment(), &key]))
    }

    fn map_response(&self, _: &AccountVaultClient, response: ApiResponse) -> Result<Status> {
        decode_delete(&response)
    }
}

#[cfg(test)]
mod tests {
    //! Requests and answers checked without a server, TabaPay's examples as vectors.

    use super::*;
    use crate::ErrorKind;
    use crate::card::{CardNumber, Expiry, with_check_digit};
    use crate::ids::ProviderId;
    use secrecy::SecretString;
    use serde_json::Value;

    const CLIENT_ID: &str = "AbCdEfGhIjKlMnOpQrStUv";

    fn client(sub: Option<&str>) -> AccountVaultClient {
        let mut builder = AccountVaultClient::builder(CLIENT_ID, SecretString::from("token"));
        if let Some(sub) = sub {
            builder = builder.sub_client_id(sub);
        }
        builder.build().expect("a valid client")
    }

    fn seed() -> Value {
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/accountvault/update_request_seed.json"
        ))
        .expect("fixtures are JSON")
    }

    /// The Update Account example's owner, with a valid card in place of its placeholder.
    fn seed_update() -> wire::UpdateAccount {
        let owner: wire::Owner = serde_json::from_value(seed()["owner"].clone()).unwrap();
        let number = CardNumber::parse(&with_check_digit("411111111111111").unwrap()).unwrap();
        wire::UpdateAccount::new(owner)
            .set_card(Some(wire::Card::plain(number, Some(Expiry::new(12, 2030).unwrap()))))
    }

    #[test]
    fn update_body_and_flags_follow_the_reference() {
        let seed = seed();
        let update = seed_update();
        let client = client(Some("0001"));
        let op = UpdateAccount {
            account_id: "acct 1",
            update: &update,
            duplicates: DuplicateCheck::Reject,
        };
        let request = op.build_request(&client).unwrap();
        assert_eq!(request.method(), Method::PUT);
        assert_eq!(request.path(), format!("/v1/clients/{CLIENT_ID}_0001/accounts/acct%201"));
        assert_eq!(request.template(), "/v1/clients/{ClientID}/accounts/{AccountID}");
        let url = client.transport().url_for(&request);
        assert_eq!(url.query(), Some("RejectDuplicateCard"));
        let sent: Value = serde_json::from_slice(request.body().unwrap()).unwrap();
        // The owner exactly as the Update Account example; the card as TabaPay names it.
        assert_eq!(sent["owner"], seed["owner"]);
        assert_eq!(sent["card"]["expirationDate"], "203012");
        assert!(sent["card"]["accountNumber"].is_string());
    }

    #[test]
    fn the_allow_flag_is_spelt_as_configured() {
        let update = seed_update();
        let op = UpdateAccount {
            account_id: "a1",
            update: &update,
            duplicates: DuplicateCheck::Allow,
        };
        let client = client(None);
        let url = client.transport().url_for(&op.build_request(&client).unwrap());
        assert_eq!(url.query(), Some(client.update_allow_flag().as_str()));
        let create = wire::CreateAccount::new("", wire::Owner::default());
        let refused = CreateAccount {
            account: &create,
            duplicates: DuplicateCheck::Off,
        }
        .build_request(&client)
        .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn answers_map_from_the_reference_examples() {
        let client = client(None);
        let answer = |status, body| ApiResponse::answered(ProviderId::AccountVault, status, body);
        let account = RetrieveAccount { account_id: "a1" }
            .map_response(
                &client,
                answer(
                    200,
                    include_str!("../../../tests/fixtures/accountvault/retrieve_response.json"),
                ),
            )
            .unwrap();
        assert!(account.owner.is_some());
        let key = RetrieveKey {
            key_id: "k1",
            format: None,
        }
        .map_response(
            &client,
            answer(
                200,
                include_str!("../../../tests/fixtures/accountvault/key_asn1_template.json"),
            ),
        )
        .unwrap();
        assert_eq!(key.key_id.as_deref(), Some("TabaPay_KeyID_22_chars"));
        let conflict = CreateAccount {
            account: &wire::CreateAccount::new("r1", wire::Owner::default()),
            duplicates: DuplicateCheck::Reject,
        }
        .map_response(
            &client,
            answer(
                409,
                include_str!("../../../tests/fixtures/accountvault/conflict_409.json"),
            ),
        )
        .unwrap_err();
        assert_eq!(conflict.kind(), ErrorKind::Conflict);
        let gone = DeleteKey { key_id: "k1" }
            .map_response(
                &client,
                answer(
                    410,
                    include_str!("../../../tests/fixtures/accountvault/key_error_410.json"),
                ),
            )
            .unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::NotFound);
    }
}
