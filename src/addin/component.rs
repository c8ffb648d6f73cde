//! The state and behaviour of one `AddIn.B24.Bitrix24` object, in safe Rust.
//!
//! The `raw` module turns vtable calls into calls of [`Addin`] and writes the results back;
//! nothing here touches a pointer.

use super::interface::{Args, Handler, Own, Prop, METHODS, PROPERTIES};
use super::jobs::{Events, Jobs};
use super::value::{Out, Value};
use crate::api::{self, Cancel, Reply, Success};
use crate::client::Client;
use crate::error::{Error, Lang};
use crate::files;
use serde_json::json;
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// The last call's envelope, and its error's code and kind (empty on success).
    last_response: Option<Arc<str>>,
    last_code: String,
    last_kind: String,
    /// The language of the library's own messages (the platform's locale).
    lang: Lang,
    /// Where jobs send their events (the platform's connection, from `Init`).
    events: Option<Arc<dyn Events>>,
    /// The files `AddFile` keeps (their tokens), freed by `RemoveFiles` or `Done`.
    files: Vec<String>,
}

/// One component object's behaviour.
#[derive(Default)]
pub(crate) struct Addin {
    // 1C never calls one object concurrently, but the lock makes that a non-issue; it is never
    // held across an HTTP call.
    state: Mutex<State>,
    jobs: Jobs,
}

/// The timeout `Timeout` reads back before a client exists: the library's default.
const DEFAULT_TIMEOUT_SECS: f64 = 60.0;
/// The largest `Timeout`: an hour is far past what a portal lets one request run (60 s).
const MAX_TIMEOUT_SECS: f64 = 3600.0;

impl Addin {
    /// Locks the state, recovering from poison: a panic is already turned into a `false` by the
    /// guard, and the state stays consistent field by field.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Init`: where this object's jobs send their events.
    pub(crate) fn set_events(&self, events: Arc<dyn Events>) {
        self.lock().events = Some(events);
    }

    /// `SetLocale` / `SetUserInterfaceLanguageCode`: the language of the library's messages.
    pub(crate) fn set_locale(&self, locale: &str) {
        self.lock().lang = Lang::from_locale(locale);
    }

    /// `Done`: stops a running job (silently), frees the kept files, drops the client (and with
    /// it this object's share of the pools).
    pub(crate) fn done(&self) {
        self.jobs.shutdown();
        let mut st = self.lock();
        files::release(&std::mem::take(&mut st.files));
        st.client = None;
        st.events = None;
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
            let client = || self.lock().client.clone();
            match def.handler {
                Handler::Own(op) => self.own(op, &args),
                Handler::Call(f) => f(client().as_ref(), &args),
                Handler::Progress(f) => f(client().as_ref(), &args, progress, &Cancel::new()),
                Handler::Start(f) => self.start(index, f, values),
            }
        });
        let envelope: Arc<str> = api::envelope_in(&reply, self.lock().lang).into();
        let verdict = self.record(reply.as_ref().err(), Some(envelope.clone()));
        match verdict {
            Verdict::Ok => (Some(envelope.to_string()), Verdict::Ok),
            other => (None, other),
        }
    }

    /// Sets `LastError`, `LastResponse`, `ErrorCode` and `ErrorKind` from the outcome, and says
    /// whether to raise.
    fn record(&self, error: Option<&Error>, envelope: Option<Arc<str>>) -> Verdict {
        let mut st = self.lock();
        st.last_response = envelope;
        let Some(e) = error else {
            st.last_error.clear();
            st.last_code.clear();
            st.last_kind.clear();
            return Verdict::Ok;
        };
        st.last_error = e.last_error_text_in(st.lang);
        st.last_code = e.code.clone();
        st.last_kind = e.kind.as_str().to_string();
        match st.throw {
            true => Verdict::Raise(st.last_error.clone()),
            false => Verdict::Ok,
        }
    }

    fn own(&self, op: Own, a: &Args) -> Reply {
        match op {
            Own::Connect => self.connect(a),
            Own::JobResult => self.jobs.result(&a.string(0)?),
            Own::CancelJob => self.jobs.cancel(&a.string(0)?),
            Own::AddFile => self.add_file(a),
            Own::RemoveFiles => {
                let files = std::mem::take(&mut self.lock().files);
                files::release(&files);
                Ok(Success {
                    result: json!(files.len()).into(),
                    ..Success::default()
                })
            }
        }
    }

    /// `Start…`: checks what can be checked now, then runs method `index`'s handler on the
    /// object's worker thread.
    fn start(
        &self,
        index: usize,
        f: super::interface::ProgressHandler,
        values: Vec<Value>,
    ) -> Reply {
        let (client, events) = {
            let st = self.lock();
            (st.client.clone(), st.events.clone())
        };
        let client = client.ok_or_else(super::interface::not_connected)?;
        let events = events.ok_or_else(|| {
            Error::invalid_input(
                "NO_EVENTS",
                "the platform gave no connection for external events (Init was not called)",
            )
        })?;
        let def = &METHODS[index];
        let work = Box::new(move |p: &mut dyn FnMut(&api::Progress), cancel: &Cancel| {
            f(Some(&client), &Args::new(def, &values)?, p, cancel)
        });
        let id = self.jobs.start(events, work)?;
        Ok(Success {
            result: json!({ "job": id }).into(),
            ..Success::default()
        })
    }

    /// `AddFile(FileName, Data)`: keeps the bytes for `{"fileId": ...}` in a later write.
    fn add_file(&self, a: &Args) -> Reply {
        let (name, bytes) = (a.string(0)?, a.bytes(1)?);
        let stored = files::store(name, bytes)?;
        self.lock().files.push(stored.token.clone());
        Ok(Success {
            result: json!({ "fileId": stored.token, "fileName": stored.name, "size": stored.size })
                .into(),
            ..Success::default()
        })
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
                    result: json!({ "webhook_url": masked }).into(),
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
        let client = st.client.as_ref();
        Some(match def.prop {
            Prop::Version => Out::Str(crate::VERSION.to_string()),
            Prop::LastError => Out::Str(st.last_error.clone()),
            // Only a live client's URL is shown, and always masked.
            Prop::WebhookUrl => {
                Out::Str(client.map(Client::masked_webhook_url).unwrap_or_default())
            }
            Prop::Timeout => Out::F64(match client {
                Some(c) => c.config().timeout.as_secs_f64(),
                None => st.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
            }),
            Prop::ThrowExceptions => Out::Bool(st.throw),
            Prop::LastResponse => {
                Out::Shared(st.last_response.clone().unwrap_or_else(|| "".into()))
            }
            Prop::ErrorCode => Out::Str(st.last_code.clone()),
            Prop::ErrorKind => Out::Str(st.last_kind.clone()),
            Prop::Journal => Out::Str(client.map(Client::journal_text).unwrap_or_default()),
        })
    }

    /// Sets property `index`. An invalid value always raises (a property write has no result
    /// to check), and sets `LastError`.
    pub(crate) fn set_prop(&self, index: usize, value: Result<Value, Error>) -> Verdict {
        let Some(def) = PROPERTIES.get(index).filter(|p| p.writable) else {
            return Verdict::Fail;
        };
        let result = value.and_then(|v| match def.prop {
            Prop::WebhookUrl => self.set_webhook_url(&v),
            Prop::Timeout => self.set_timeout(&v),
            Prop::ThrowExceptions => v.flag(def.en, false).map(|b| self.lock().throw = b),
            _ => unreachable!("read-only properties are filtered above"),
        });
        match result {
            Ok(()) => Verdict::Ok,
            Err(e) => {
                self.record(Some(&e), None);
                Verdict::Raise(self.lock().last_error.clone())
            }
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
        if secs == 0.0 || secs > MAX_TIMEOUT_SECS {
            // In HTTPСоединение 0 means "no timeout"; this add-in always bounds its requests.
            return Err(Error::invalid_input(
                "INVALID_TIMEOUT",
                format!("Timeout must be from 0.001 to {MAX_TIMEOUT_SECS} seconds, got {secs}: unlike HTTPСоединение, 0 (no timeout) is not accepted, every request is bounded"),
            ));
        }
        let (url, settings) = {
            let st = self.lock();
            (st.webhook_url.clone(), st.settings.clone())
        };
        let rebuilt = if url.is_empty() {
            None
        } else {
            Some(api::connect(&url, settings.as_deref(), Some(secs))?)
        };
        // On failure above the old client and timeout stay: nothing about the portal changed.
        let mut st = self.lock();
        if rebuilt.is_some() {
            st.client = rebuilt;
        }
        st.timeout = Some(secs);
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
        let prop = |n: &str| a.get_prop(find_property(n).unwrap()).unwrap();
        assert_eq!(prop("ErrorCode"), Out::Str("NOT_CONNECTED".into()));
        assert_eq!(prop("ВидОшибки"), Out::Str("invalid_input".into()));
        let last = prop("ПоследнийОтвет");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(last.text().unwrap()).unwrap(),
            env
        );

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
        // The effective timeout reads back, not 0.
        assert_eq!(a.get_prop(timeout), Some(Out::F64(60.0)));
        assert_eq!(a.set_prop(timeout, Ok(Value::Float(12.5))), Verdict::Ok);
        assert_eq!(a.get_prop(timeout), Some(Out::F64(12.5)));
        // Invalid writes raise whatever ThrowExceptions says; 0 is refused (it is not "none").
        for bad in [Value::Int(-1), Value::Int(0), Value::Float(1e9), w("x")] {
            let Verdict::Raise(text) = a.set_prop(timeout, Ok(bad.clone())) else {
                panic!("{bad:?} did not raise")
            };
            assert_eq!(text, last_error(&a));
        }
        assert!(last_error(&a).starts_with("[WRONG_PARAM_TYPE]"));
        assert_eq!(a.get_prop(timeout), Some(Out::F64(12.5)));
        let code = find_property("КодОшибки").unwrap();
        assert_eq!(a.get_prop(code), Some(Out::Str("WRONG_PARAM_TYPE".into())));
        let Verdict::Raise(_) = a.set_prop(url, Ok(w("nonsense"))) else {
            panic!("a bad URL did not raise")
        };
        assert_eq!(a.get_prop(url), Some(Out::Str(String::new())));
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
        assert_eq!(a.record(Some(&e), None), Verdict::Ok);
        assert_eq!(last_error(&a), "[X] y");
    }
}
