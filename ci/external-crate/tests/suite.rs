//! The glue: the conformance suite on `MapBackend`, with `Invoice` values
//! mixed into the states it saves.

use std::sync::Arc;

use proptest::prelude::*;
use stateharness::backends::{BackendError, StateBackend};
use stateharness::conformance::{Opener, Suite, SuiteOptions};
use stateharness::format::TypeRegistry;
use texts_backend::{Invoice, MapBackend, Texts};

/// Each open is a new handle on the same storage (the persistence check
/// reopens), with the registry the suite hands over.
struct Reopen(Texts);

#[stateharness::async_trait]
impl Opener for Reopen {
    fn describe(&self) -> String {
        "a map of texts".into()
    }

    async fn open(&self, registry: Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> {
        Ok(Arc::new(MapBackend::new(self.0.clone(), registry)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_and_the_invoice_pass_the_suite() {
    let invoices = (any::<u32>(), proptest::collection::vec("[a-z ]{0,12}", 0..4)).prop_map(|(number, lines)| Invoice { number, lines });
    let options = SuiteOptions::default().with_serde_type("Invoice", invoices).unwrap();
    Suite::open(Arc::new(Reopen(Texts::default())), options).await.unwrap().run().await.assert_passed();
}
