//! Credentials from the environment: each client's `from_env` reads its vendor's variables,
//! checked before any request is built, so the command line, the examples and a platform's
//! own service start the same way.
//!
//! The rule is the same for every vendor: none of its required variables set means "not
//! configured" (`Ok(None)`: the examples then use their emulator); all of them set means a
//! builder; some set and some not, or a value that does not parse, is an error naming the
//! variable, never its value.

/// The variables a client's `from_env` reads: those it needs and those it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvVars {
    /// Every one of these must be set (and not blank).
    pub required: &'static [&'static str],
    /// Read when set.
    pub optional: &'static [&'static str],
}

impl EnvVars {
    /// A set of variables.
    pub const fn new(required: &'static [&'static str], optional: &'static [&'static str]) -> Self {
        EnvVars { required, optional }
    }

    /// The required variables that are not set (or blank).
    pub fn missing(&self) -> Vec<&'static str> {
        self.required
            .iter()
            .copied()
            .filter(|name| var(name).is_none())
            .collect()
    }
}

/// A non-blank variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// What the vendors' `from_env` read: compiled with at least one vendor.
#[cfg(any_provider)]
mod read {
    use std::collections::HashMap;

    use secrecy::SecretString;
    use url::Url;

    use super::{EnvVars, var};
    use crate::error::{Error, InputProblem, Result};

    impl EnvVars {
        /// Reads the variables: `Ok(None)` when none of the required ones is set, the values when
        /// all are.
        ///
        /// # Errors
        ///
        /// [`Error::InvalidInput`] naming the required variables that are missing, when some are
        /// set and some are not.
        pub(crate) fn read(&self) -> Result<Option<EnvValues>> {
            let missing = self.missing();
            if missing.len() == self.required.len() {
                return Ok(None);
            }
            if !missing.is_empty() {
                let field = match missing.as_slice() {
                    [one] => format!("environment variable {one}"),
                    many => format!("environment: each of {}", many.join(", ")),
                };
                return Err(Error::invalid(field, InputProblem::Missing));
            }
            let values = self
                .required
                .iter()
                .chain(self.optional)
                .filter_map(|name| var(name).map(|v| (*name, v)))
                .collect();
            Ok(Some(EnvValues { values }))
        }
    }

    /// The values [`EnvVars::read`] found (the vendors' `from_env` read them).
    pub(crate) struct EnvValues {
        values: HashMap<&'static str, String>,
    }

    impl EnvValues {
        /// A variable's value (a required one is always there).
        pub(crate) fn get(&self, name: &str) -> Option<String> {
            self.values.get(name).cloned()
        }

        /// A secret variable's value.
        pub(crate) fn secret(&self, name: &str) -> Option<SecretString> {
            self.get(name).map(SecretString::from)
        }

        /// A URL variable's value.
        ///
        /// # Errors
        ///
        /// [`Error::InvalidInput`] naming the variable when it does not parse as a URL.
        pub(crate) fn url(&self, name: &str) -> Result<Option<Url>> {
            self.get(name)
                .map(|v| {
                    Url::parse(v.trim()).map_err(|_| {
                        Error::invalid(format!("environment variable {name}"), InputProblem::BadUrl)
                    })
                })
                .transpose()
        }
    }
}
