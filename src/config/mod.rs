//! Configuration: parsed from JSON, validated once, immutable afterwards.

use crate::error::Error;
use serde::Deserialize;
use std::time::Duration;

/// The default custom field codes that hold the 1C GUID (from the customer's spec).
pub const DEFAULT_USER_GUID_FIELD: &str = "UF_USR_1722587885970";
/// Contact GUID field of the customer's portal.
pub const DEFAULT_CONTACT_GUID_FIELD: &str = "UF_CRM_1723100443089";
/// Company GUID field of the customer's portal.
pub const DEFAULT_COMPANY_GUID_FIELD: &str = "UF_CRM_1723100288587";

mod sections;
mod webhook;

use sections::{journal_config, rate_limit_shape, validate_proxy};
pub use sections::{JournalConfig, RateLimit, MAX_JOURNAL_LINES};
pub use webhook::Webhook;

/// The custom fields that hold the 1C GUID of users, contacts and companies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuidFields {
    /// User field (must start with `UF_USR_`).
    pub user: String,
    /// Contact field.
    pub contact: String,
    /// Company field.
    pub company: String,
}

impl Default for GuidFields {
    fn default() -> Self {
        GuidFields {
            user: DEFAULT_USER_GUID_FIELD.into(),
            contact: DEFAULT_CONTACT_GUID_FIELD.into(),
            company: DEFAULT_COMPANY_GUID_FIELD.into(),
        }
    }
}

/// The JSON configuration as written by the caller (every key but `webhook_url` optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    webhook_url: String,
    #[serde(default)]
    connect_timeout_secs: Option<f64>,
    #[serde(default)]
    timeout_secs: Option<f64>,
    #[serde(default)]
    max_retries: Option<u32>,
    /// `null`/absent: default 50/2; `false`: off; an object: custom.
    #[serde(default)]
    rate_limit: Option<serde_json::Value>,
    #[serde(default)]
    proxy: Option<String>,
    #[serde(default)]
    ca_cert_path: Option<String>,
    #[serde(default)]
    guid_fields: Option<GuidFields>,
    #[serde(default)]
    strict_fields: Option<bool>,
    #[serde(default)]
    bulk_concurrency: Option<usize>,
    #[serde(default)]
    max_response_mb: Option<f64>,
    #[serde(default)]
    deadline_secs: Option<f64>,
    #[serde(default)]
    execution_limit_secs: Option<f64>,
    #[serde(default)]
    operating_limit_secs: Option<f64>,
    #[serde(default)]
    operating_window_secs: Option<f64>,
    #[serde(default)]
    bulk_deadline_secs: Option<f64>,
    #[serde(default)]
    batch_target_secs: Option<f64>,
    #[serde(default)]
    share_across_processes: Option<bool>,
    #[serde(default, rename = "match")]
    match_rules: Option<serde_json::Value>,
    #[serde(default)]
    journal: Option<serde_json::Value>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The portal and its credentials.
    pub webhook: Webhook,
    /// Time to establish a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time for a whole request, answer included (default 60 s: the cloud cuts requests at 60 s).
    pub timeout: Duration,
    /// How many times a refused or failed request is sent again when that is safe (default 5).
    pub max_retries: u32,
    /// Client-side pacing; `None` turns it off.
    pub rate_limit: Option<RateLimit>,
    /// Optional proxy URL (`http://`, `https://`, `socks5://` or `socks5h://`); environment
    /// proxies are ignored.
    pub proxy: Option<String>,
    /// Optional extra CA certificate (PEM file) trusted besides the bundled and OS roots.
    pub ca_cert_path: Option<String>,
    /// Where the 1C GUID lives.
    pub guid_fields: GuidFields,
    /// When true, field keys the portal would silently drop are an `invalid_input` error.
    pub strict_fields: bool,
    /// Batch requests a bulk upsert keeps in flight (default 4; pacing still comes from the
    /// shared bucket, this only hides the portal's latency).
    pub bulk_concurrency: usize,
    /// The largest answer body read (default 64 MiB; every real answer is far smaller). A larger
    /// one is refused while it is read, so no answer can exhaust the host's memory.
    pub max_response_bytes: usize,
    /// One bound on the whole of a single operation (default 3 × `timeout` + `execution_limit` +
    /// 1 s): pacing, retries, the field check, and resolving a lost answer all fit in it.
    pub deadline: Duration,
    /// How long the portal may go on running a request after it arrived (default 60 s: the
    /// cloud cuts requests off then; a boxed portal needs the wall-clock limit of its PHP). A
    /// write whose answer was lost is looked up only this long (+1 s) after the client stopped
    /// waiting for it, and never re-sent before.
    pub execution_limit: Duration,
    /// The portal's operating-time budget per method and 10 minutes (default 480 s, the cloud's
    /// documented figure): from 80 % of it calls of the method are spread out, and a method the
    /// portal blocks is waited for until its budget frees up.
    pub operating_limit: Duration,
    /// The window the portal bills operating time in (600 s; other values only for a test
    /// portal that runs the limiter faster).
    pub operating_window: Duration,
    /// The longest a bulk upsert may take, waits for the limits included (default 6 h; `0` in
    /// the JSON: no bound). Records not written by then come back as `TIME_LIMITED`.
    pub bulk_deadline: Option<Duration>,
    /// The server time one write batch should take at most (default 20 s, a third of the
    /// cloud's 60 s cut-off): batches are made smaller when the portal's `result_time` says
    /// the commands are slow.
    pub batch_target: Duration,
    /// Whether pacing and GUID claims are shared by every process of the host (default true):
    /// 1C's server runs several worker processes, and the portal counts them all against one
    /// bucket. The state lives in files under the temp directory; a process that cannot use
    /// them paces and claims alone, never fails. `false`: shared by this process's clients only.
    pub share_across_processes: bool,
    /// Default match rules per entity, used when an upsert's GUID is not found (`"match"`).
    pub match_rules: crate::sync::MatchRules,
    /// The request journal (`"journal"`; off by default).
    pub journal: JournalConfig,
}

impl Config {
    /// A default configuration for a webhook URL.
    pub fn new(webhook_url: &str) -> Result<Config, Error> {
        Config::from_json(&serde_json::json!({ "webhook_url": webhook_url }).to_string())
    }

    /// Parses and validates the JSON configuration.
    ///
    /// Keys: `webhook_url` (required), `connect_timeout_secs` (10), `timeout_secs` (60),
    /// `max_retries` (5), `rate_limit` (`{"burst":50,"per_second":2}`; `false` turns it off),
    /// `proxy`, `ca_cert_path`, `guid_fields` (`{"user","contact","company"}`), `strict_fields` (false),
    /// `bulk_concurrency` (4), `max_response_mb` (64), `deadline_secs` (3 × `timeout_secs` + `execution_limit_secs` + 1),
    /// `execution_limit_secs` (60), `operating_limit_secs` (480), `operating_window_secs` (600), `bulk_deadline_secs` (21600; 0:
    /// none), `batch_target_secs` (20), `share_across_processes` (true), `match`
    /// (`{"contact": [rules], "company": [rules]}`: default match rules, none by default),
    /// `journal` (`{"lines": 0..10000, "file": "path"}`: the request journal, off by default).
    pub fn from_json(json: &str) -> Result<Config, Error> {
        let raw: RawConfig = serde_json::from_str(json).map_err(|e| {
            // serde's message may quote the input, which holds the secret: keep only the position.
            Error::invalid_input(
                "INVALID_CONFIG",
                format!(
                    "configuration JSON is invalid at line {} column {}: {}",
                    e.line(),
                    e.column(),
                    describe_serde(&e)
                ),
            )
        })?;
        let webhook = Webhook::parse(&raw.webhook_url)?;
        let secs = |v: Option<f64>, default: f64, name: &str| -> Result<Duration, Error> {
            let s = v.unwrap_or(default);
            if !(s.is_finite() && s > 0.0 && s <= 3600.0) {
                return Err(Error::invalid_input(
                    "INVALID_CONFIG",
                    format!("{name} must be a number of seconds in (0, 3600]"),
                ));
            }
            Ok(Duration::from_secs_f64(s))
        };
        let rate_limit = match raw.rate_limit {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(true)) => {
                Some(RateLimit::default())
            }
            Some(serde_json::Value::Bool(false)) => None,
            Some(v) => Some(rate_limit_shape(v)?),
        };
        let guid_fields = raw.guid_fields.unwrap_or_default();
        for (name, code) in [
            ("contact", &guid_fields.contact),
            ("company", &guid_fields.company),
            ("user", &guid_fields.user),
        ] {
            if !is_field_code(code) {
                return Err(Error::invalid_input(
                    "INVALID_CONFIG",
                    format!("guid_fields.{name} must be a field code like UF_CRM_123"),
                ));
            }
        }
        if !guid_fields.user.starts_with("UF_USR_") {
            return Err(Error::invalid_input(
                "INVALID_CONFIG",
                "guid_fields.user must start with UF_USR_ (the portal ignores other user filters)",
            ));
        }
        if let Some(p) = raw.proxy.as_deref().filter(|p| !p.is_empty()) {
            validate_proxy(p)?;
        }
        let timeout = secs(raw.timeout_secs, 60.0, "timeout_secs")?;
        let execution_limit = secs(raw.execution_limit_secs, 60.0, "execution_limit_secs")?;
        // Room for three timed-out requests and one wait for the portal's cut-off: an upsert
        // whose add was lost can still be resolved within it.
        let deadline = secs(
            raw.deadline_secs,
            3.0 * timeout.as_secs_f64() + execution_limit.as_secs_f64() + 1.0,
            "deadline_secs",
        )?;
        let operating_limit = within(
            raw.operating_limit_secs,
            480.0,
            0.1..=86_400.0,
            "operating_limit_secs",
        )?;
        let operating_window = within(
            raw.operating_window_secs,
            600.0,
            1.0..=3600.0,
            "operating_window_secs",
        )?;
        let bulk_deadline = match raw.bulk_deadline_secs {
            Some(0.0) => None,
            v => Some(within(v, 21_600.0, 1.0..=604_800.0, "bulk_deadline_secs")?),
        };
        let batch_target = within(
            raw.batch_target_secs,
            20.0,
            1.0..=3600.0,
            "batch_target_secs",
        )?;
        let max_mb = raw.max_response_mb.unwrap_or(64.0);
        if !(max_mb.is_finite() && (1.0..=1024.0).contains(&max_mb)) {
            return Err(Error::invalid_input(
                "INVALID_CONFIG",
                "max_response_mb must be a number from 1 to 1024",
            ));
        }
        let match_rules = match &raw.match_rules {
            None | Some(serde_json::Value::Null) => crate::sync::MatchRules::default(),
            Some(v) => {
                crate::sync::MatchRules::parse(v, &guid_fields.contact, &guid_fields.company)?
            }
        };
        let journal = match raw.journal {
            None | Some(serde_json::Value::Null) => JournalConfig::default(),
            Some(v) => journal_config(v)?,
        };
        Ok(Config {
            journal,
            match_rules,
            webhook,
            connect_timeout: secs(raw.connect_timeout_secs, 10.0, "connect_timeout_secs")?,
            timeout,
            deadline,
            max_response_bytes: (max_mb * 1024.0 * 1024.0) as usize,
            max_retries: raw.max_retries.unwrap_or(5).min(50),
            rate_limit,
            proxy: raw.proxy.filter(|p| !p.is_empty()),
            ca_cert_path: raw.ca_cert_path.filter(|p| !p.is_empty()),
            guid_fields,
            strict_fields: raw.strict_fields.unwrap_or(false),
            bulk_concurrency: raw.bulk_concurrency.unwrap_or(4).clamp(1, 16),
            execution_limit,
            operating_limit,
            operating_window,
            bulk_deadline,
            batch_target,
            share_across_processes: raw.share_across_processes.unwrap_or(true),
        })
    }
}

/// A number of seconds within `range` (`default` when absent).
fn within(
    v: Option<f64>,
    default: f64,
    range: std::ops::RangeInclusive<f64>,
    name: &str,
) -> Result<Duration, Error> {
    let s = v.unwrap_or(default);
    if !(s.is_finite() && range.contains(&s)) {
        return Err(Error::invalid_input(
            "INVALID_CONFIG",
            format!(
                "{name} must be a number of seconds from {} to {}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

/// serde's message without anything it quotes: values (`invalid value: string "..."`) and keys
/// (`unknown field `...``) may be a pasted webhook URL, so neither is repeated.
fn describe_serde(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or("");
    let cut = msg.find(['"', '`', '\'']).unwrap_or(msg.len());
    let mut out = msg[..cut].trim_end().to_string();
    if msg.starts_with("unknown field") {
        out = "unknown key; the keys are webhook_url, timeout_secs, connect_timeout_secs, \
               deadline_secs, max_retries, rate_limit, proxy, ca_cert_path, guid_fields, \
               strict_fields, bulk_concurrency, max_response_mb, execution_limit_secs, \
               operating_limit_secs, operating_window_secs, bulk_deadline_secs, \
               batch_target_secs, \
               share_across_processes, match, journal"
            .into();
    } else if cut < msg.len() {
        out.push('…');
    }
    out
}

/// An upper-case Bitrix field code: `UF_CRM_1723100443089`, `NAME`.
pub fn is_field_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_errors() {
        let c = Config::new("https://p.example.com/rest/1/secretsecret/").unwrap();
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(
            c.rate_limit,
            Some(RateLimit {
                burst: 50.0,
                per_second: 2.0
            })
        );
        assert_eq!(c.guid_fields.contact, DEFAULT_CONTACT_GUID_FIELD);
        let c = Config::from_json(
            r#"{"webhook_url":"https://p.example.com/rest/1/secretsecret/","rate_limit":false}"#,
        )
        .unwrap();
        assert!(c.rate_limit.is_none());
        assert!(c.share_across_processes, "shared by default");
        let c = Config::from_json(
            r#"{"webhook_url":"https://p.example.com/rest/1/secretsecret/","share_across_processes":false}"#,
        )
        .unwrap();
        assert!(!c.share_across_processes);
        let e = Config::from_json(
            r#"{"webhook_url":"https://p.example.com/rest/1/secretsecret/","timeout_secs":"x"}"#,
        )
        .unwrap_err();
        assert!(!e.description.contains("secretsecret"), "{e}");
        let e = Config::from_json(
            r#"{"webhook_url":"https://p.example.com/rest/1/secretsecret/","bogus":1}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, "INVALID_CONFIG");
    }

    #[test]
    fn journal_settings() {
        let with = |journal: &str| {
            Config::from_json(&format!(
                r#"{{"webhook_url":"https://p.example.com/rest/1/secretsecret/","journal":{journal}}}"#
            ))
        };
        let off = Config::new("https://p.example.com/rest/1/secretsecret/").unwrap();
        assert_eq!(off.journal, JournalConfig::default(), "off by default");
        assert_eq!(with("null").unwrap().journal, JournalConfig::default());
        let j = with(r#"{"lines":200,"file":"/var/log/b24.log"}"#)
            .unwrap()
            .journal;
        assert_eq!(
            (j.lines, j.file.as_deref()),
            (200, Some("/var/log/b24.log"))
        );
        assert_eq!(with(r#"{"lines":10000}"#).unwrap().journal.lines, 10_000);
        for bad in [
            r#"{"lines":10001}"#,
            r#"{"lines":-1}"#,
            r#"{"lines":1.5}"#,
            r#"{"lines":"5"}"#,
            r#"{"file":""}"#,
            r#"{"file":5}"#,
            r#"{"lines":5,"size":1}"#,
            r#"{"file":"https://p.example.com/rest/1/secretsecret/","bogus":1}"#,
            r#"true"#,
            r#"[]"#,
        ] {
            let e = with(bad).unwrap_err();
            assert_eq!(e.code, "INVALID_CONFIG", "{bad}");
            assert!(e.description.starts_with("journal must be"), "{bad}: {e}");
            assert!(!e.description.contains("secretsecret"), "{e}");
        }
    }
}
