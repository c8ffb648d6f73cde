//! The state and behaviour of one `AddIn.B24.Bitrix24` object, in safe Rust.
//!
//! The `raw` module turns vtable calls into calls of [`Addin`] and writes the results back;
//! nothing here touches a pointer.

use super::interface::{Args, Handler, Prop, METHODS, PROPERTIES};
use super::value::{Out, Value};
use crate::api::{self, Reply, Success};
use crate::client::Client;
use crate::error::Error;
use std::sync::{Mutex, MutexGuard};

/// What a vtable entry should do after the component has run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Return true.
    Ok,
    /// Return false without reporting (a call 1C should never make: bad index, read-only
    /// property).
    Fail,
    /// Report this text through `AddError`, then return false (BSL raises an exception).
    Raise(String),
}

/// The mutable state of one object.
#[derive(Default)]
struct State {
    client: Option<Client>,
    /// The URL as given (with the secret), kept to rebuild the client when `Timeout` changes.
    webhook_url: String,
    settings: Option<String>,
    /// `None` means the library default.
    timeout: Option<f64>,
    throw: bool,
    last_error: String,
}

/// One component object's behaviour.
#[derive(Default)]
pub(crate) struct Addin {
    // 1C never calls one object concurrently, but the lock makes that a non-issue; it is never
    // held across an HTTP call.
    state: Mutex<State>,
}

impl Addin {
    /// Locks the state, recovering from poison: a panic is already turned into a `false` by the
    /// guard, and the state stays consistent field by field.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Done`: drops the client (and with it this object's share of the pools).
    pub(crate) fn done(&self) {
        let mut st = self.lock();
        st.client = None;
    }

    /// Runs method `index` with the parameters read from 1C (or the error reading them).
    ///
    /// Returns the envelope to hand back (when there is one) and what to return.
    pub(crate) fn call(
        &self,
        index: usize,
        params: Result<Vec<Value>, Error>,
        progress: &mut dyn FnMut(&api::Progress),
    ) -> (Option<String>, Verdict) {
        let Some(def) = METHODS.get(index) else {
            return (None, Verdict::Fail);
        };
        let reply = params.and_then(|values| {
            let args = Args::new(def, &values)?;
            match def.handler {
                Handler::Connect => self.connect(&args),
                Handler::Call(f) => {
                    let client = self.lock().client.clone();
                    f(client.as_ref(), &args)
                }
                Handler::Progress(f) => {
                    let client = self.lock().client.clone();
                    f(client.as_ref(), &args, progress)
                }
            }
        });
        let verdict = self.record(reply.as_ref().err());
        match verdict {
            Verdict::Ok => (Some(api::envelope(&reply)), Verdict::Ok),
            other => (None, other),
        }
    }

    /// Sets `LastError` from the outcome, and says whether to raise.
    fn record(&self, error: Option<&Error>) -> Verdict {
        let mut st = self.lock();
        match error {
            None => {
                st.last_error.clear();
                Verdict::Ok
            }
            Some(e) => {
                st.last_error = e.last_error_text();
                if st.throw {
                    Verdict::Raise(st.last_error.clone())
                } else {
                    Verdict::Ok
                }
            }
        }
    }

    fn connect(&self, a: &Args) -> Reply {
        let url = a.string(0)?;
        let settings = a.opt_string(1)?;
        let timeout = self.lock().timeout;
        let connected = api::connect(&url, settings.as_deref(), timeout);
        let mut st = self.lock();
        match connected {
            Ok(client) => {
                let masked = client.masked_webhook_url();
                st.client = Some(client);
                st.webhook_url = url;
                st.settings = settings;
                Ok(Success {
                    result: serde_json::json!({ "webhook_url": masked }).into(),
                    ..Success::default()
                })
            }
            Err(e) => {
                // A failed Connect leaves the object disconnected rather than silently talking to
                // the previous portal.
                st.client = None;
                st.webhook_url.clear();
                st.settings = None;
                Err(e)
            }
        }
    }

    /// The value of property `index`, or `None` when there is no such readable property.
    pub(crate) fn get_prop(&self, index: usize) -> Option<Out> {
        let def = PROPERTIES.get(index).filter(|p| p.readable)?;
        let st = self.lock();
        Some(match def.prop {
            Prop::Version => Out::Str(crate::VERSION.to_string()),
            Prop::LastError => Out::Str(st.last_error.clone()),
            // Only a live client's URL is shown, and always masked.
            Prop::WebhookUrl => Out::Str(
                st.client
                    .as_ref()
                    .map(Client::masked_webhook_url)
                    .unwrap_or_default(),
            ),
            Prop::Timeout => Out::F64(st.timeout.unwrap_or(0.0)),
            Prop::ThrowExceptions => Out::Bool(st.throw),
        })
    }

    /// Sets property `index`. Errors set `LastError` and raise only with `ThrowExceptions`, like
    /// methods.
    pub(crate) fn set_prop(&self, index: usize, value: Result<Value, Error>) -> Verdict {
        let Some(def) = PROPERTIES.get(index).filter(|p| p.writable) else {
            return Verdict::Fail;
        };
        let result = value.and_then(|v| match def.prop {
            Prop::WebhookUrl => self.set_webhook_url(&v),
            Prop::Timeout => self.set_timeout(&v),
            Prop::ThrowExceptions => v.flag(def.en, false).map(|b| self.lock().throw = b),
            Prop::Version | Prop::LastError => {
                unreachable!("read-only properties are filtered above")
            }
        });
        match result {
            Ok(()) => Verdict::Ok,
            Err(e) => self.record(Some(&e)),
        }
    }

    fn set_webhook_url(&self, v: &Value) -> Result<(), Error> {
        let url = v.text("WebhookURL")?.unwrap_or_default();
        let (settings, timeout) = {
            let st = self.lock();
            (st.settings.clone(), st.timeout)
        };
        let built = if url.is_empty() {
            Ok(None)
        } else {
            api::connect(&url, settings.as_deref(), timeout).map(Some)
        };
        let mut st = self.lock();
        match built {
            Ok(client) => {
                st.client = client;
                st.webhook_url = url;
                st.last_error.clear();
                Ok(())
            }
            Err(e) => {
                st.client = None;
                st.webhook_url.clear();
                Err(e)
            }
        }
    }

    fn set_timeout(&self, v: &Value) -> Result<(), Error> {
        let secs = v.seconds("Timeout")?;
        // 0 means "the library default", as it reads back.
        let timeout = (secs > 0.0).then_some(secs);
        let (url, settings) = {
            let st = self.lock();
            (st.webhook_url.clone(), st.settings.clone())
        };
        let rebuilt = if url.is_empty() {
            None
        } else {
            Some(api::connect(&url, settings.as_deref(), timeout)?)
        };
        // On failure above the old client and timeout stay: nothing about the portal changed.
        let mut st = self.lock();
        if rebuilt.is_some() {
            st.client = rebuilt;
        }
        st.timeout = timeout;
        st.last_error.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addin::interface::{find_method, find_property};
    use crate::error::ErrorKind;

    fn w(s: &str) -> Value {
        Value::Utf16(s.encode_utf16().collect())
    }

    fn last_error(a: &Addin) -> String {
        match a.get_prop(find_property("LastError").unwrap()) {
            Some(Out::Str(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_connected_and_bad_input_envelopes() {
        let a = Addin::default();
        let get = find_method("GetContact").unwrap();
        let (ret, v) = a.call(get, Ok(vec![Value::Int(1)]), &mut |_| {});
        assert_eq!(v, Verdict::Ok);
        let env: serde_json::Value = serde_json::from_str(&ret.unwrap()).unwrap();
        assert_eq!(env["ok"], false);
        assert_eq!(env["error"]["code"], "NOT_CONNECTED");
        assert_eq!(env["error"]["kind"], "invalid_input");
        assert!(last_error(&a).starts_with("[NOT_CONNECTED] "));

        let (ret, _) = a.call(get, Ok(vec![]), &mut |_| {});
        assert!(ret.unwrap().contains("WRONG_PARAM_COUNT"));
        let (ret, _) = a.call(
            get,
            Err(Error::invalid_input("NULL_PARAMS", "x")),
            &mut |_| {},
        );
        assert!(ret.unwrap().contains("NULL_PARAMS"));
        assert_eq!(a.call(999, Ok(vec![]), &mut |_| {}), (None, Verdict::Fail));
    }

    #[test]
    fn throw_exceptions_raises_with_last_error_text() {
        let a = Addin::default();
        let throw = find_property("ВызыватьИсключения").unwrap();
        assert_eq!(a.get_prop(throw), Some(Out::Bool(false)));
        assert_eq!(a.set_prop(throw, Ok(Value::Bool(true))), Verdict::Ok);
        assert_eq!(a.get_prop(throw), Some(Out::Bool(true)));
        let (ret, v) = a.call(
            find_method("УдалитьКомпанию").unwrap(),
            Ok(vec![w("abc")]),
            &mut |_| {},
        );
        assert_eq!(ret, None);
        let Verdict::Raise(text) = v else {
            panic!("{v:?}")
        };
        assert!(text.starts_with("[INVALID_ID] "), "{text}");
        assert_eq!(text, last_error(&a));
        // A wrong property type raises too while throwing is on.
        assert!(matches!(a.set_prop(throw, Ok(w("yes"))), Verdict::Raise(_)));
    }

    #[test]
    fn properties() {
        let a = Addin::default();
        let version = find_property("версия").unwrap();
        assert_eq!(a.get_prop(version), Some(Out::Str(crate::VERSION.into())));
        assert_eq!(a.set_prop(version, Ok(w("9"))), Verdict::Fail);
        let url = find_property("webhookurl").unwrap();
        assert_eq!(a.get_prop(url), Some(Out::Str(String::new())));
        let timeout = find_property("Таймаут").unwrap();
        assert_eq!(a.get_prop(timeout), Some(Out::F64(0.0)));
        assert_eq!(a.set_prop(timeout, Ok(Value::Float(12.5))), Verdict::Ok);
        assert_eq!(a.get_prop(timeout), Some(Out::F64(12.5)));
        assert_eq!(a.set_prop(timeout, Ok(Value::Int(-1))), Verdict::Ok);
        assert!(last_error(&a).starts_with("[INVALID_TIMEOUT]"));
        assert_eq!(a.get_prop(timeout), Some(Out::F64(12.5)));
        assert_eq!(a.set_prop(url, Ok(w(""))), Verdict::Ok);
        assert_eq!(last_error(&a), "");
        assert_eq!(a.get_prop(99), None);
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let a = Addin::default();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = a.lock();
            panic!("poison");
        }));
        assert!(a.state.is_poisoned());
        let e = Error::new(ErrorKind::Auth, "X", "y");
        assert_eq!(a.record(Some(&e)), Verdict::Ok);
        assert_eq!(last_error(&a), "[X] y");
    }
}
