//! The client: one configured connection to one portal.

/// A configured Bitrix24 client. Cheap to clone; safe to share between threads.
#[derive(Clone, Debug)]
pub struct Client {
    masked: String,
}

impl Client {
    /// The webhook URL with its secret masked.
    pub fn masked_webhook_url(&self) -> String {
        self.masked.clone()
    }
}
