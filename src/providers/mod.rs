//! Native clients, one module per provider. Each has its client (request builders and response
//! mapping), its wire types (`serde` structs with the provider's exact field names) and its auth.
//! The unified layer reaches them only through the [`crate::Provider`] trait and `From`/`TryFrom`
//! conversions.
