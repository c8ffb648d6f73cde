//! `user.get`, `user.current`, `profile` (reference §6.2).

use crate::api::{ApiError, CallResult, Success};
use crate::crm::Store;
use crate::filter::{self, Kind};
use crate::php;
use crate::time;
use serde_json::{json, Map, Value};

/// Standard user fields `user.get` lets a caller filter by; anything else is dropped silently.
const ALLOWED: &[&str] = &[
    "ID",
    "XML_ID",
    "ACTIVE",
    "NAME",
    "LAST_NAME",
    "SECOND_NAME",
    "EMAIL",
    "LAST_LOGIN",
    "DATE_REGISTER",
    "IS_ONLINE",
    "TIME_ZONE",
    "TITLE",
    "PERSONAL_GENDER",
    "PERSONAL_PROFESSION",
    "PERSONAL_WWW",
    "PERSONAL_BIRTHDAY",
    "PERSONAL_PHOTO",
    "PERSONAL_ICQ",
    "PERSONAL_PHONE",
    "PERSONAL_FAX",
    "PERSONAL_MOBILE",
    "PERSONAL_PAGER",
    "PERSONAL_STREET",
    "PERSONAL_CITY",
    "PERSONAL_STATE",
    "PERSONAL_ZIP",
    "PERSONAL_COUNTRY",
    "WORK_COMPANY",
    "WORK_POSITION",
    "WORK_PHONE",
    "UF_DEPARTMENT",
    "UF_INTERESTS",
    "UF_SKILLS",
    "UF_WEB_SITES",
    "UF_XING",
    "UF_LINKEDIN",
    "UF_FACEBOOK",
    "UF_TWITTER",
    "UF_SKYPE",
    "UF_DISTRICT",
    "UF_PHONE_INNER",
    "USER_TYPE",
];

/// User types that are not "real" users and never appear in `user.get` (IS_REAL_USER=Y).
const NOT_REAL: &[&str] = &[
    "bot",
    "email",
    "imconnector",
    "replica",
    "sale",
    "saleanonymous",
    "shop",
    "external",
];

/// Which part of the user API the webhook's scopes open.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UserScope {
    Full,
    Reduced,
}

impl Store {
    /// Insert a user; returns its ID. `ACTIVE` becomes a boolean (default true).
    pub fn add_user(&mut self, user: &Value) -> String {
        let mut src = crate::crm::to_map(user);
        let id = src.get("ID").map(php::intval).unwrap_or(0);
        let id = if id > 0 { id as u64 } else { self.next_user };
        self.next_user = self.next_user.max(id + 1);
        let active = match src.get("ACTIVE") {
            None | Some(Value::Null) => true,
            Some(v) => active_truthy(v),
        };
        let mut m = Map::new();
        m.insert("ID".into(), json!(id.to_string()));
        m.insert("XML_ID".into(), src.remove("XML_ID").unwrap_or(json!("")));
        m.insert("ACTIVE".into(), json!(active));
        for k in ["NAME", "LAST_NAME", "SECOND_NAME", "TITLE", "EMAIL"] {
            m.insert(k.into(), src.remove(k).unwrap_or(json!("")));
        }
        m.insert("LAST_LOGIN".into(), json!(""));
        m.insert(
            "DATE_REGISTER".into(),
            json!(time::iso(time::now_secs() - 86400 * 30)),
        );
        m.insert("IS_ONLINE".into(), json!("N"));
        for (k, v) in src {
            let k = k.to_uppercase();
            if k == "ID" || k == "ACTIVE" {
                continue;
            }
            if k.starts_with("UF_USR_") {
                self.user_ufs.insert(k.clone());
            }
            m.insert(k, v);
        }
        m.entry("UF_DEPARTMENT").or_insert(json!([1]));
        m.entry("USER_TYPE").or_insert(json!("employee"));
        self.users.insert(id, m);
        id.to_string()
    }

    fn user_out(&self, u: &Map<String, Value>, scope: UserScope) -> Value {
        let mut out = Map::new();
        for (k, v) in u {
            if v.is_null() && k != "ACTIVE" {
                continue; // null-valued keys are omitted (§6.2)
            }
            if k == "LOGIN" || (k.starts_with("UF_USR_") && scope != UserScope::Full) {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        Value::Object(out)
    }

    /// `user.get`: keys upper-cased, a `FILTER` array replaces the parameter set, unknown or
    /// unallowed keys dropped, exact offset paging (§6.2).
    pub fn user_get(
        &self,
        params: &Map<String, Value>,
        start: Option<&Value>,
        scope: UserScope,
    ) -> CallResult {
        let mut set: Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_uppercase(), v.clone()))
            .collect();
        if let Some(f) = set.get("FILTER") {
            if php::is_array(f) {
                set = crate::crm::to_map(f)
                    .into_iter()
                    .map(|(k, v)| (k.to_uppercase(), v))
                    .collect();
            }
        }
        let sort = set
            .get("SORT")
            .map(|v| php::strval(v).to_uppercase())
            .unwrap_or_else(|| "ID".into());
        let desc = set
            .get("ORDER")
            .map(|v| php::strval(v).eq_ignore_ascii_case("DESC"))
            .unwrap_or(false);
        let mut preds: Vec<(filter::Op, String, Value)> = Vec::new();
        for (k, v) in &set {
            if matches!(k.as_str(), "SORT" | "ORDER" | "ADMIN_MODE" | "FILTER") {
                continue;
            }
            let (op, name) = filter::split_op(k);
            let allowed = ALLOWED.contains(&name)
                || (scope == UserScope::Full && self.user_ufs.contains(name))
                || name == "NAME_SEARCH"
                || name == "FIND";
            if !allowed {
                continue;
            }
            let v = if name == "ACTIVE" {
                json!(if active_truthy(v) { "Y" } else { "N" })
            } else {
                v.clone()
            };
            preds.push((op, name.to_string(), v));
        }
        let vals = |u: &Map<String, Value>, name: &str| -> Vec<String> {
            match u.get(name) {
                None | Some(Value::Null) => vec![],
                Some(Value::Bool(b)) => vec![if *b { "Y" } else { "N" }.into()],
                Some(Value::Array(a)) => a.iter().map(php::strval).collect(),
                Some(v) => vec![php::strval(v)],
            }
        };
        let kind = |name: &str| {
            if name == "ID" || name == "UF_DEPARTMENT" {
                Kind::Num
            } else {
                Kind::Str
            }
        };
        let mut rows: Vec<&Map<String, Value>> = self
            .users
            .values()
            .filter(|u| {
                let t = u.get("USER_TYPE").map(php::strval).unwrap_or_default();
                !NOT_REAL.contains(&t.as_str())
            })
            .filter(|u| {
                preds.iter().all(|(op, name, v)| {
                    if name == "NAME_SEARCH" || name == "FIND" {
                        let needle = php::strval(v).to_lowercase();
                        return ["NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "LOGIN"]
                            .iter()
                            .any(|f| {
                                vals(u, f)
                                    .iter()
                                    .any(|x| x.to_lowercase().contains(&needle))
                            });
                    }
                    filter::test(*op, kind(name), &vals(u, name), v)
                })
            })
            .collect();
        if sort != "ID" || desc {
            rows.sort_by(|a, b| {
                let x = vals(a, &sort).into_iter().next();
                let y = vals(b, &sort).into_iter().next();
                let o = filter::order_cmp(kind(&sort), x.as_deref(), y.as_deref());
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
        }
        let s = start.map(php::intval).unwrap_or(0);
        let no_count = s == -1;
        let offset = if s < 0 { 0 } else { s as usize };
        let total = rows.len();
        let page: Vec<Value> = rows
            .into_iter()
            .skip(offset)
            .take(crate::crm::PAGE as usize)
            .map(|u| self.user_out(u, scope))
            .collect();
        if page.is_empty() {
            // An empty result carries no total (`if ($result)` in the server).
            return Ok(Success::plain(json!([])));
        }
        if no_count {
            return Ok(Success {
                result: Value::Array(page),
                next: None,
                total: Some(0),
            });
        }
        let n = page.len();
        Ok(Success {
            result: Value::Array(page),
            next: if offset + n < total {
                Some((offset + n) as i64)
            } else {
                None
            },
            total: Some(total as i64),
        })
    }

    pub fn user_current(&self, scope: UserScope) -> CallResult {
        let id: u64 = self.webhook_user.parse().unwrap_or(0);
        match self.users.get(&id) {
            Some(u) => Ok(Success::plain(self.user_out(u, scope))),
            None => Err(ApiError::new(
                401,
                "authorization_error",
                "Unable to authorize user",
            )),
        }
    }

    pub fn profile(&self) -> CallResult {
        let id: u64 = self.webhook_user.parse().unwrap_or(0);
        let Some(u) = self.users.get(&id) else {
            return Err(ApiError::new(
                401,
                "authorization_error",
                "Unable to authorize user",
            ));
        };
        let g = |k: &str| u.get(k).cloned().unwrap_or(json!(""));
        Ok(Success::plain(json!({
            "ID": g("ID"),
            "ADMIN": true,
            "NAME": g("NAME"),
            "LAST_NAME": g("LAST_NAME"),
            "PERSONAL_GENDER": g("PERSONAL_GENDER"),
            "TIME_ZONE": "",
        })))
    }

    /// Is the webhook owner an active user? (`authorization_error` otherwise, §3.3).
    pub fn webhook_user_active(&self) -> bool {
        let id: u64 = self.webhook_user.parse().unwrap_or(0);
        self.users
            .get(&id)
            .and_then(|u| u.get("ACTIVE"))
            .map(|a| a == &Value::Bool(true))
            .unwrap_or(false)
    }
}

/// `ACTIVE` filter truthiness: `'Y'` unless falsy or `'N'`; the string `"false"` is active.
pub fn active_truthy(v: &Value) -> bool {
    php::truthy(v) && php::strval(v) != "N"
}
