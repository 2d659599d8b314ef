//! The glue: the conformance suite on `MapBackend`, with `Invoice` values
//! mixed into the states it saves.

use std::sync::Arc;

use proptest::prelude::*;
use stateharness::conformance::{FnOpener, Suite, SuiteOptions};
use texts_backend::{Invoice, MapBackend, Texts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_and_the_invoice_pass_the_suite() {
    // Each open is a new handle on the same storage (the persistence check
    // reopens), with the registry the suite hands over.
    let texts = Texts::default();
    let opener = FnOpener::new("a map of texts", move |registry| Ok(Arc::new(MapBackend::new(texts.clone(), registry))));
    let invoices = (any::<u32>(), proptest::collection::vec("[a-z ]{0,12}", 0..4)).prop_map(|(number, lines)| Invoice { number, lines });
    let options = SuiteOptions::default().with_serde_type("Invoice", invoices).unwrap();
    Suite::open(Arc::new(opener), options).await.unwrap().run().await.assert_passed();
}
