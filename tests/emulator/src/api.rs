//! Method results and errors shared by all method implementations.

use serde_json::Value;

/// A REST error: HTTP status, `error` code and `error_description` (reference §3).
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub desc: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, desc: &str) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            desc: desc.to_string(),
        }
    }
    /// The per-method operating budget is spent (§4.2): 429, from the limiter or a fault.
    pub fn operation_time_limit() -> ApiError {
        ApiError::new(
            429,
            "OPERATION_TIME_LIMIT",
            "Method is blocked due to operation time limit.",
        )
    }
    /// Legacy CRM errors are thrown without a code and map to 400 (§3.4).
    pub fn crm(desc: &str) -> ApiError {
        ApiError::new(400, "", desc)
    }
    pub fn core(desc: &str) -> ApiError {
        ApiError::new(400, "ERROR_CORE", desc)
    }
    pub fn not_found() -> ApiError {
        ApiError::new(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
    }
}

/// A method's successful answer: `result` plus optional `next`/`total`.
#[derive(Clone, Debug)]
pub struct Success {
    pub result: Value,
    pub next: Option<i64>,
    pub total: Option<i64>,
}

impl Success {
    pub fn plain(result: Value) -> Success {
        Success {
            result,
            next: None,
            total: None,
        }
    }
}

pub type CallResult = Result<Success, ApiError>;
