//! The webhook URL: validated once, its secret kept out of every rendering of it.

use crate::error::Error;
use std::net::IpAddr;

/// A validated webhook URL: `https://PORTAL/rest/USER_ID/SECRET/`.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// `scheme://host[:port]`, the portal's identity for rate limiting.
    pub origin: String,
    /// The full base URL ending in `/`, secret included. Never print it.
    base: String,
    /// The secret path segment, kept to mask it wherever text leaves the library.
    secret: String,
    /// The base URL with the secret replaced by `***`.
    masked: String,
    /// `base`, parsed once: a request's URL is this with the method appended to the path.
    base_url: reqwest::Url,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked)
    }
}

impl Webhook {
    /// Parses and validates a webhook URL. The error never repeats the URL (it holds the secret).
    pub fn parse(url: &str) -> Result<Webhook, Error> {
        let bad = |why: &str| {
            Error::invalid_input(
                "INVALID_WEBHOOK_URL",
                format!("webhook URL must look like https://PORTAL/rest/USER_ID/SECRET/: {why}"),
            )
        };
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no path"))?;
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("the host is missing or carries credentials"));
        }
        if path.contains(['?', '#']) {
            return Err(bad("query strings and fragments are not allowed"));
        }
        let host = host_of(authority).ok_or_else(|| bad("the host is malformed"))?;
        match scheme.as_str() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => return Err(bad("plain http is allowed only for loopback hosts (the portal answers `Https required.`)")),
            _ => return Err(bad("the scheme must be https")),
        }
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if segs.len() != 3 || segs[0] != "rest" {
            return Err(bad("the path must be /rest/USER_ID/SECRET/"));
        }
        let (user, secret) = (segs[1], segs[2]);
        let user_ok = !user.is_empty()
            && user.len() <= 64
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c));
        if !user_ok {
            return Err(bad("USER_ID must be a user ID or login"));
        }
        if secret.len() < 4
            || secret.len() > 128
            || !secret.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(bad("SECRET must be 4 to 128 letters and digits"));
        }
        let origin = format!("{scheme}://{}", authority.to_ascii_lowercase());
        let base = format!("{origin}/rest/{user}/{secret}/");
        let base_url = reqwest::Url::parse(&base).map_err(|_| bad("the host is malformed"))?;
        Ok(Webhook {
            base_url,
            base,
            masked: format!("{origin}/rest/{user}/***/"),
            secret: secret.to_string(),
            origin,
        })
    }

    /// The URL of one method (the name must be validated already).
    pub fn method_url(&self, method: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        // Only the path is set: parsing the whole URL per request (host, IDNA) cost more.
        url.set_path(&format!("{}{method}", self.base_url.path()));
        url
    }

    /// A key that tells webhooks apart (secret included); for in-memory maps only, never shown.
    pub fn cache_key(&self) -> &str {
        &self.base
    }

    /// The base URL with the secret masked, safe to show.
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The secret itself, for masking raw answers; never show it.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// Replaces every occurrence of the secret in `text` with `***`.
    pub fn mask(&self, text: &str) -> String {
        if text.contains(&self.secret) {
            text.replace(&self.secret, "***")
        } else {
            text.to_string()
        }
    }
}

/// The host of `host[:port]` or `[v6][:port]`, lower-cased; `None` when the authority is not
/// exactly that (a stray character after `]`, a port that is not 1..=65535).
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => (h, None),
            _ => (h, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(p) = port {
        let valid = !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0);
        if !valid {
            return None;
        }
    }
    let host_ok = !host.is_empty()
        && (authority.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    host_ok.then(|| host.to_ascii_lowercase())
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_forms() {
        let w = Webhook::parse("https://portal.example.bitrix24.ru/rest/16/abcdef123456").unwrap();
        assert_eq!(
            w.masked(),
            "https://portal.example.bitrix24.ru/rest/16/***/"
        );
        assert_eq!(
            w.method_url("user.get").as_str(),
            "https://portal.example.bitrix24.ru/rest/16/abcdef123456/user.get"
        );
        assert!(Webhook::parse("http://127.0.0.1:8080/rest/1/abcd1234/").is_ok());
        assert!(Webhook::parse("http://[::1]:8080/rest/1/abcd1234/").is_ok());
        assert!(Webhook::parse("http://localhost/rest/1/abcd1234/").is_ok());
        for bad in [
            "http://portal.example.com/rest/1/abcd1234/",
            "ftp://portal.example.com/rest/1/abcd1234/",
            "https://portal.example.com/rest/abcd1234/",
            "https://portal.example.com/rest/1/abcd1234/user.get",
            "https://portal.example.com/rest/1/ab%2F1234/",
            "https://u:p@portal.example.com/rest/1/abcd1234/",
            "https://portal.example.com/rest/1/abcd1234/?x=1",
            "portal.example.com/rest/1/abcd1234/",
        ] {
            let e = Webhook::parse(bad).unwrap_err();
            assert_eq!(e.code, "INVALID_WEBHOOK_URL", "{bad}");
            assert!(!e.description.contains("abcd1234"));
        }
    }
}
