//! AccountVault through the unified [`Provider`] trait: "update a stored account", the
//! holder's data mapped onto TabaPay's owner fields ([TabaPay's Update Account reference](https://developers.tabapay.com/reference/updateaccount)).

use super::wire::{
    Account, Address, Card, CardV2, Name, Owner, OwnerV2, Phone, Status, UpdateAccount,
    UpdateAccountV2,
};
use super::{AccountVaultClient, PROVIDER, validate};
use crate::card::Expiry;
use crate::error::{Error, InputProblem, Result};
use crate::{
    ids::{Flow, ProviderId},
    provider::{
        AccountUpdateReceipt, AccountUpdateRequest, BoxFuture, Capabilities, HolderData,
        NewCardData, Provider,
    },
};

/// The first owner field (as `owner.x.y`) that the wire types do not model, if any.
pub(super) fn unmodelled_owner_field(owner: &serde_json::Value) -> Option<String> {
    const KNOWN: [(&str, &[&str]); 3] = [
        ("name", &["company", "first", "middle", "last", "suffix"]),
        (
            "address",
            &["line1", "line2", "city", "state", "zipcode", "country"],
        ),
        ("phone", &["countryCode", "number"]),
    ];
    let object = owner.as_object()?;
    for (key, value) in object {
        let Some((_, fields)) = KNOWN.iter().find(|(k, _)| k == key) else {
            return Some(format!("owner.{key}"));
        };
        if let Some(inner) = value.as_object() {
            if let Some(extra) = inner.keys().find(|k| !fields.contains(&k.as_str())) {
                return Some(format!("owner.{key}.{extra}"));
            }
        }
    }
    None
}

/// ISO 3166-1 alpha-2 → numeric for the countries a billing platform most often meets; others
/// must be given as the 3-digit numeric code.
pub(super) fn country_numeric(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "US" => "840",
        "CA" => "124",
        "MX" => "484",
        "GB" => "826",
        "IE" => "372",
        "FR" => "250",
        "DE" => "276",
        "ES" => "724",
        "IT" => "380",
        "NL" => "528",
        "AU" => "036",
        "NZ" => "554",
        "JP" => "392",
        "IN" => "356",
        "BR" => "076",
        _ => return None,
    })
}

/// The unified holder data as AccountVault owner parts.
pub(super) fn owner_parts(holder: &HolderData) -> Result<OwnerV2> {
    if holder.email.is_some() {
        return Err(Error::invalid(
            "holder.email",
            InputProblem::NotAllowed {
                reason: "AccountVault stores no email for an account owner".into(),
            },
        ));
    }
    let has_person =
        holder.first_name.is_some() || holder.middle_name.is_some() || holder.last_name.is_some();
    let name = (has_person || holder.company.is_some()).then(|| Name {
        company: holder.company.clone(),
        first: holder.first_name.clone(),
        middle: holder.middle_name.clone(),
        last: holder.last_name.clone(),
        suffix: None,
    });
    let address = match &holder.address {
        None => None,
        Some(a) => Some(Address {
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zipcode: a.postal_code.clone(),
            country: match a.country.as_deref() {
                None => None,
                Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(c.to_owned())
                }
                Some(c) => Some(country_numeric(c).map(str::to_owned).ok_or_else(|| {
                    Error::invalid(
                        "holder.address.country",
                        InputProblem::Format {
                            expected:
                                "an ISO 3166-1 numeric code (e.g. 840) or a known alpha-2 code"
                                    .into(),
                        },
                    )
                })?),
            },
        }),
    };
    let phone = holder.phone.as_ref().map(|n| Phone {
        country_code: holder.phone_country_code.clone(),
        number: n.clone(),
    });
    Ok(OwnerV2 {
        name,
        address,
        phone,
    })
}

impl AccountVaultClient {
    /// The flows this client offers (its [`Provider::capabilities`]), known before one is
    /// built: the command line asks it to say what a provider can do without credentials.
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[Flow::UpdateAccount]);
}

impl Provider for AccountVaultClient {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    /// A new card number: Update Account v1, which replaces the whole account, so the stored
    /// owner is retrieved and the caller's holder data merged into it field by field (nothing
    /// the caller did not ask to change is dropped), with the client's duplicate-card policy.
    /// Only a new expiry and/or holder data: Update Account v2 (partial); holder data is merged
    /// with the stored owner there too, so a partial name or address is never sent alone
    /// (whether v2 merges or replaces those objects is not documented).
    ///
    /// Refused before any request: a new number without an expiry (the stored expiry belongs
    /// to the old card), a card holder name (AccountVault has no name on the card: use the
    /// owner's name in holder data), an email. Refused after the retrieve and before the update:
    /// a stored bank account (a card would replace it), and stored owner data this crate cannot
    /// carry over.
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        Box::pin(async move {
            let AccountUpdateRequest {
                account_id,
                card,
                holder,
            } = request;
            let parts = holder.as_ref().map(owner_parts).transpose()?;
            if card.is_none() && parts.is_none() {
                return Err(Error::invalid("update", InputProblem::Empty));
            }
            let new_card = self.checked_new_card(card.as_ref())?;
            let stored = match (&new_card, &parts) {
                (None, None) => None,
                _ => Some(self.retrieve_for_merge(&account_id).await?),
            };
            let status = match new_card {
                Some(new_card) => {
                    self.replace_card(&account_id, new_card, parts, stored)
                        .await?
                }
                None => {
                    let expiry = card.as_ref().and_then(|c| c.expiry);
                    self.patch_expiry_and_owner(&account_id, expiry, parts, stored)
                        .await?
                }
            };
            Ok(AccountUpdateReceipt {
                provider: PROVIDER,
                account_id,
                raw_code: format!(
                    "SC={} EC={}",
                    status.sc.unwrap_or(0),
                    status.ec.as_deref().unwrap_or("")
                ),
                warning: status.warning().map(|w| w.to_string()),
                reference: None,
            })
        })
    }
}

/// The steps of the unified account update.
impl AccountVaultClient {
    /// The card to send when the caller gives a new number (encrypted when a key is
    /// configured), after the checks that need no request: no name on the card, an expiry with
    /// every new number, no security code without a new number.
    fn checked_new_card(&self, card: Option<&NewCardData>) -> Result<Option<Card>> {
        let Some(data) = card else {
            return Ok(None);
        };
        if data.holder_name.is_some() {
            return Err(Error::invalid(
                "card.holder_name",
                InputProblem::NotAllowed {
                    reason: "AccountVault keeps no name on the card; set the owner's name in holder data".into(),
                },
            ));
        }
        match &data.number {
            Some(_) if data.expiry.is_none() => {
                Err(Error::invalid("card.expiry", InputProblem::Missing))
            }
            Some(number) => Ok(Some(self.card_for(number, data)?)),
            None if data.security_code.is_some() => Err(Error::invalid(
                "card.security_code",
                InputProblem::NotAllowed {
                    reason: "without a new number only the expiry can change on a stored card"
                        .into(),
                },
            )),
            None => Ok(None),
        }
    }

    /// A new card number: v1 full replace of the stored account, its owner carried over with
    /// the caller's parts merged in. A stored bank account is refused (the card would replace
    /// it).
    async fn replace_card(
        &self,
        account_id: &str,
        card: Card,
        parts: Option<OwnerV2>,
        stored: Option<Account>,
    ) -> Result<Status> {
        let (bank, owner) = stored.map(|s| (s.bank, s.owner)).unwrap_or_default();
        if bank.is_some() {
            return Err(Error::invalid(
                "card",
                InputProblem::NotAllowed {
                    reason: "the stored account is a bank account; a card update would replace it"
                        .into(),
                },
            ));
        }
        let mut owner = owner.unwrap_or_default();
        if let Some(p) = parts {
            merge_owner(&mut owner, p);
        }
        // A stored ZIP+4 a server returns as `12345-6789` goes back as documented.
        if let Some(a) = owner.address.as_mut() {
            a.zipcode = a.zipcode.take().map(|z: String| documented_zip(z.as_str()));
        }
        validate::owner(&owner)?;
        let body = UpdateAccount {
            bank: None,
            card: Some(card),
            owner,
        };
        self.update_account(account_id, &body, self.duplicate_check)
            .await
    }

    /// No new number: a v2 partial update of the expiry and of whole owner objects the caller
    /// changed (each merged with the stored one), nothing else.
    async fn patch_expiry_and_owner(
        &self,
        account_id: &str,
        expiry: Option<Expiry>,
        parts: Option<OwnerV2>,
        stored: Option<Account>,
    ) -> Result<Status> {
        let owner = match (parts, stored) {
            (Some(p), Some(stored)) => {
                let (name, address, phone) =
                    (p.name.is_some(), p.address.is_some(), p.phone.is_some());
                let mut merged = stored.owner.unwrap_or_default();
                merge_owner(&mut merged, p);
                let owner = OwnerV2 {
                    name: name.then_some(merged.name),
                    address: merged.address.filter(|_| address),
                    phone: merged.phone.filter(|_| phone),
                };
                validate::v2_owner(&owner)?;
                Some(owner)
            }
            _ => None,
        };
        let body = UpdateAccountV2 {
            card: expiry.map(|e| CardV2 {
                expiration_date: Some(e),
            }),
            owner,
        };
        self.update_account_v2(account_id, &body).await
    }
}

/// Merges the caller's holder parts into the stored owner, field by field: a field the caller
/// gives replaces the stored one; a field it leaves out keeps the stored value. A company name
/// replaces a person's name and the other way round (TabaPay takes one or the other).
pub(super) fn merge_owner(owner: &mut Owner, parts: OwnerV2) {
    fn keep_or<T>(stored: &mut Option<T>, given: Option<T>) {
        if given.is_some() {
            *stored = given;
        }
    }
    if let Some(n) = parts.name {
        if n.company.is_some() {
            owner.name = Name {
                company: n.company,
                ..Name::default()
            };
        } else {
            if owner.name.company.is_some() {
                owner.name = Name::default();
            }
            keep_or(&mut owner.name.first, n.first);
            keep_or(&mut owner.name.middle, n.middle);
            keep_or(&mut owner.name.last, n.last);
            keep_or(&mut owner.name.suffix, n.suffix);
        }
    }
    if let Some(a) = parts.address {
        let stored = owner.address.get_or_insert_with(Address::default);
        keep_or(&mut stored.line1, a.line1);
        keep_or(&mut stored.line2, a.line2);
        keep_or(&mut stored.city, a.city);
        keep_or(&mut stored.state, a.state);
        keep_or(&mut stored.zipcode, a.zipcode);
        keep_or(&mut stored.country, a.country);
        stored.zipcode = stored
            .zipcode
            .take()
            .map(|z: String| documented_zip(z.as_str()));
    }
    if let Some(p) = parts.phone {
        let stored = owner.phone.get_or_insert_with(|| Phone::new(""));
        stored.number = p.number;
        keep_or(&mut stored.country_code, p.country_code);
    }
}


/// A US ZIP+4 written `12345-6789` becomes the nine digits the document asks for; anything else
/// is kept as it is (and validated as it is).
pub(super) fn documented_zip(zip: &str) -> String {
    let b = zip.as_bytes();
    if b.len() == 10 && b[5] == b'-' && zip.bytes().filter(u8::is_ascii_digit).count() == 9 {
        zip.replace('-', "")
    } else {
        zip.to_owned()
    }
}
