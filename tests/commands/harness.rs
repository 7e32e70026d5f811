//! The Elasticsearch double running this package's binary (`test_support::double`).

pub use test_support::double::*;

test_support::plugin_double!();
