//! The one table of the component's interface: every method and property with its English and
//! Russian name, parameters and handler.
//!
//! Everything 1C sees (`GetNMethods`, `FindMethod`, `GetMethodName`, `GetNParams`,
//! `GetParamDefValue`, the property calls) is answered from [`METHODS`] and [`PROPERTIES`], so
//! documentation and BSL samples can be checked against this table alone.

mod args;
mod handlers;

pub use args::Args;
pub use handlers::not_connected;

use super::value::Out;
use crate::api::{self, Entity, Reply};
use crate::client::Client;
use handlers::*;

/// The default of an optional parameter, as `GetParamDefValue` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamDefault {
    /// An empty string (for an optional JSON parameter: "none").
    EmptyString,
    /// `Ложь`.
    False,
    /// The number 1.
    One,
}

impl ParamDefault {
    /// The value handed to 1C.
    pub fn to_out(self) -> Out {
        match self {
            ParamDefault::EmptyString => Out::Str(String::new()),
            ParamDefault::False => Out::Bool(false),
            ParamDefault::One => Out::F64(1.0),
        }
    }
}

/// What a method does once its parameters are read.
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    /// A method on the object's own state, which the component runs itself.
    Own(Own),
    /// Any other method: runs against the current client (`None` before `Connect`).
    Call(fn(Option<&Client>, &Args) -> Reply),
    /// A long method that reports progress (`done`, `total`), shown in 1C's status line.
    Progress(ProgressHandler),
    /// `Start…`: the same long method on a worker thread of the object (see `jobs`).
    Start(ProgressHandler),
}

/// The methods on the object's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Own {
    /// Replaces the object's client.
    Connect,
    /// Hands over a finished job's result.
    JobResult,
    /// Stops a job.
    CancelJob,
    /// Keeps `ДвоичныеДанные` in memory for a later write.
    AddFile,
    /// Frees the files `AddFile` kept.
    RemoveFiles,
}

/// A handler that reports progress (`done`, `total`) while it runs and stops when cancelled.
pub(crate) type ProgressHandler =
    fn(Option<&Client>, &Args, &mut dyn FnMut(&api::Progress), &api::Cancel) -> Reply;

/// One method of the component.
pub struct MethodDef {
    /// The international name (alias 0).
    pub en: &'static str,
    /// The Russian name (alias 1).
    pub ru: &'static str,
    /// The number of parameters (`GetNParams`).
    pub params: usize,
    /// How many leading parameters are required; the rest are optional.
    pub required: usize,
    /// The parameter names, in order (for messages and documentation).
    pub param_names: &'static [&'static str],
    /// Defaults of the optional parameters: `defaults[i]` belongs to parameter `required + i`.
    pub defaults: &'static [ParamDefault],
    pub(crate) handler: Handler,
}

impl MethodDef {
    /// The default of parameter `index`, or `None` when it is required or out of range.
    pub fn default_of(&self, index: usize) -> Option<ParamDefault> {
        index
            .checked_sub(self.required)
            .and_then(|i| self.defaults.get(i).copied())
    }
}

/// Which property a [`PropertyDef`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    Version,
    LastError,
    WebhookUrl,
    Timeout,
    ThrowExceptions,
    LastResponse,
    ErrorCode,
    ErrorKind,
    Journal,
}

/// One property of the component.
pub struct PropertyDef {
    /// The international name (alias 0).
    pub en: &'static str,
    /// The Russian name (alias 1).
    pub ru: &'static str,
    /// Readable from BSL.
    pub readable: bool,
    /// Writable from BSL.
    pub writable: bool,
    pub(crate) prop: Prop,
}

const fn method(
    en: &'static str,
    ru: &'static str,
    param_names: &'static [&'static str],
    defaults: &'static [ParamDefault],
    handler: Handler,
) -> MethodDef {
    MethodDef {
        en,
        ru,
        params: param_names.len(),
        required: param_names.len() - defaults.len(),
        param_names,
        defaults,
        handler,
    }
}

const ID: &str = "ID";
const FIELDS: &str = "FieldsJSON";

/// Every method, in the order of their numbers (`FindMethod` returns the index here).
pub static METHODS: &[MethodDef] = &[
    method(
        "Connect",
        "Подключить",
        &["WebhookURL", "SettingsJSON"],
        &[ParamDefault::EmptyString],
        Handler::Own(Own::Connect),
    ),
    method(
        "CheckConnection",
        "ПроверитьПодключение",
        &[],
        &[],
        Handler::Call(check_connection),
    ),
    method(
        "Call",
        "Вызвать",
        &["Method", "ParamsJSON"],
        &[ParamDefault::EmptyString],
        Handler::Call(call),
    ),
    method(
        "Batch",
        "Пакет",
        &["CommandsJSON", "Halt"],
        &[ParamDefault::False],
        Handler::Call(batch),
    ),
    method(
        "GetUserByGUID",
        "ПолучитьПользователяПоGUID",
        &["GUID"],
        &[],
        Handler::Call(user_by_guid),
    ),
    method(
        "CreateContact",
        "СоздатьКонтакт",
        &[FIELDS],
        &[],
        Handler::Call(|c, a| create(c, a, Entity::Contact)),
    ),
    method(
        "UpdateContact",
        "ОбновитьКонтакт",
        &[ID, FIELDS],
        &[],
        Handler::Call(|c, a| update(c, a, Entity::Contact)),
    ),
    method(
        "DeleteContact",
        "УдалитьКонтакт",
        &[ID],
        &[],
        Handler::Call(|c, a| delete(c, a, Entity::Contact)),
    ),
    method(
        "GetContact",
        "ПолучитьКонтакт",
        &[ID],
        &[],
        Handler::Call(|c, a| get(c, a, Entity::Contact)),
    ),
    method(
        "ContactFields",
        "ПоляКонтакта",
        &[],
        &[],
        Handler::Call(|c, _| fields(c, Entity::Contact)),
    ),
    method(
        "CreateCompany",
        "СоздатьКомпанию",
        &[FIELDS],
        &[],
        Handler::Call(|c, a| create(c, a, Entity::Company)),
    ),
    method(
        "UpdateCompany",
        "ОбновитьКомпанию",
        &[ID, FIELDS],
        &[],
        Handler::Call(|c, a| update(c, a, Entity::Company)),
    ),
    method(
        "DeleteCompany",
        "УдалитьКомпанию",
        &[ID],
        &[],
        Handler::Call(|c, a| delete(c, a, Entity::Company)),
    ),
    method(
        "GetCompany",
        "ПолучитьКомпанию",
        &[ID],
        &[],
        Handler::Call(|c, a| get(c, a, Entity::Company)),
    ),
    method(
        "CompanyFields",
        "ПоляКомпании",
        &[],
        &[],
        Handler::Call(|c, _| fields(c, Entity::Company)),
    ),
    method(
        "UpsertContact",
        "ЗаписатьКонтакт",
        &[FIELDS],
        &[],
        Handler::Call(|c, a| upsert(c, a, Entity::Contact)),
    ),
    method(
        "UpsertCompany",
        "ЗаписатьКомпанию",
        &[FIELDS],
        &[],
        Handler::Call(|c, a| upsert(c, a, Entity::Company)),
    ),
    method(
        "SetContactMultiField",
        "УстановитьМножественноеПолеКонтакта",
        &[ID, "Field", "ValuesJSON"],
        &[],
        Handler::Call(|c, a| set_multifield(c, a, Entity::Contact)),
    ),
    method(
        "SetCompanyMultiField",
        "УстановитьМножественноеПолеКомпании",
        &[ID, "Field", "ValuesJSON"],
        &[],
        Handler::Call(|c, a| set_multifield(c, a, Entity::Company)),
    ),
    method(
        "BulkUpsertContacts",
        "ЗаписатьКонтактыПакетом",
        &["RecordsJSON"],
        &[],
        Handler::Progress(|c, a, p, s| bulk_upsert(c, a, p, s, Entity::Contact)),
    ),
    method(
        "BulkUpsertCompanies",
        "ЗаписатьКомпанииПакетом",
        &["RecordsJSON"],
        &[],
        Handler::Progress(|c, a, p, s| bulk_upsert(c, a, p, s, Entity::Company)),
    ),
    method(
        "Export",
        "Выгрузить",
        EXPORT_PARAMS,
        EXPORT_DEFAULTS,
        Handler::Progress(export),
    ),
    // Outbound events: needs no connection, so a 1C HTTP service can parse a call before (or
    // without) connecting to the portal.
    method(
        "ParseEvent",
        "РазобратьСобытие",
        &["Body", "ContentType", "ExpectedToken"],
        &[ParamDefault::EmptyString, ParamDefault::EmptyString],
        Handler::Call(parse_event),
    ),
    method(
        "PullChanges",
        "ПолучитьИзменения",
        &["Method", "Cursor", "ParamsJSON", "FilePath", "Reconcile"],
        &[
            ParamDefault::EmptyString,
            ParamDefault::EmptyString,
            ParamDefault::EmptyString,
            ParamDefault::False,
        ],
        Handler::Call(pull_changes),
    ),
    // Long calls on a worker thread, reported through external events (`jobs`).
    method(
        "StartBulkUpsertContacts",
        "НачатьЗаписьКонтактовПакетом",
        &["RecordsJSON"],
        &[],
        Handler::Start(|c, a, p, s| bulk_upsert(c, a, p, s, Entity::Contact)),
    ),
    method(
        "StartBulkUpsertCompanies",
        "НачатьЗаписьКомпанийПакетом",
        &["RecordsJSON"],
        &[],
        Handler::Start(|c, a, p, s| bulk_upsert(c, a, p, s, Entity::Company)),
    ),
    method(
        "StartExport",
        "НачатьВыгрузку",
        EXPORT_PARAMS,
        EXPORT_DEFAULTS,
        Handler::Start(export),
    ),
    method(
        "JobResult",
        "РезультатЗадания",
        &["JobID"],
        &[],
        Handler::Own(Own::JobResult),
    ),
    method(
        "CancelJob",
        "ОтменитьЗадание",
        &["JobID"],
        &[],
        Handler::Own(Own::CancelJob),
    ),
    method(
        "AddFile",
        "ДобавитьФайл",
        &["FileName", "Data"],
        &[],
        Handler::Own(Own::AddFile),
    ),
    method(
        "RemoveFiles",
        "УдалитьФайлы",
        &[],
        &[],
        Handler::Own(Own::RemoveFiles),
    ),
];

const EXPORT_PARAMS: &[&str] = &["Method", "ParamsJSON", "FilePath", "PagesPerBatch"];
const EXPORT_DEFAULTS: &[ParamDefault] = &[
    ParamDefault::EmptyString,
    ParamDefault::EmptyString,
    ParamDefault::One,
];

/// Every property, in the order of their numbers (`FindProp` returns the index here).
pub static PROPERTIES: &[PropertyDef] = &[
    PropertyDef {
        en: "Version",
        ru: "Версия",
        readable: true,
        writable: false,
        prop: Prop::Version,
    },
    PropertyDef {
        en: "LastError",
        ru: "ПоследняяОшибка",
        readable: true,
        writable: false,
        prop: Prop::LastError,
    },
    PropertyDef {
        en: "WebhookURL",
        ru: "АдресВебхука",
        readable: true,
        writable: true,
        prop: Prop::WebhookUrl,
    },
    PropertyDef {
        en: "Timeout",
        ru: "Таймаут",
        readable: true,
        writable: true,
        prop: Prop::Timeout,
    },
    PropertyDef {
        en: "ThrowExceptions",
        ru: "ВызыватьИсключения",
        readable: true,
        writable: true,
        prop: Prop::ThrowExceptions,
    },
    read_only("LastResponse", "ПоследнийОтвет", Prop::LastResponse),
    read_only("ErrorCode", "КодОшибки", Prop::ErrorCode),
    read_only("ErrorKind", "ВидОшибки", Prop::ErrorKind),
    read_only("Journal", "Журнал", Prop::Journal),
];

const fn read_only(en: &'static str, ru: &'static str, prop: Prop) -> PropertyDef {
    PropertyDef {
        en,
        ru,
        readable: true,
        writable: false,
        prop,
    }
}

/// The index of the method called `name` (either language, any case).
pub fn find_method(name: &str) -> Option<usize> {
    crate::addin::text::find_name(name, METHODS.iter().map(|m| (m.en, m.ru)))
}

/// The index of the property called `name` (either language, any case).
pub fn find_property(name: &str) -> Option<usize> {
    crate::addin::text::find_name(name, PROPERTIES.iter().map(|p| (p.en, p.ru)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addin::value::Value;
    use crate::error::ErrorKind;
    use std::collections::HashSet;

    #[test]
    fn table_is_consistent() {
        let mut seen = HashSet::new();
        for m in METHODS {
            assert_eq!(m.params, m.param_names.len(), "{}", m.en);
            assert_eq!(m.required + m.defaults.len(), m.params, "{}", m.en);
            for n in [m.en, m.ru] {
                assert!(seen.insert(n.to_lowercase()), "duplicate name {n}");
            }
        }
        for p in PROPERTIES {
            for n in [p.en, p.ru] {
                assert!(seen.insert(n.to_lowercase()), "duplicate name {n}");
            }
            assert!(p.readable);
        }
        assert_eq!(METHODS.len(), 31);
        assert_eq!(PROPERTIES.len(), 9);
    }

    #[test]
    fn lookup_by_either_name_in_any_case() {
        assert_eq!(find_method("создатьконтакт"), find_method("CREATECONTACT"));
        assert_eq!(
            METHODS[find_method("ПОЛУЧИТЬПОЛЬЗОВАТЕЛЯПОGUID").unwrap()].en,
            "GetUserByGUID"
        );
        assert_eq!(
            PROPERTIES[find_property("последняяошибка").unwrap()].en,
            "LastError"
        );
        assert_eq!(find_method("Version"), None);
        assert_eq!(find_property("Connect"), None);
    }

    #[test]
    fn defaults_and_counts() {
        let connect = &METHODS[find_method("Connect").unwrap()];
        assert_eq!(connect.default_of(0), None);
        assert_eq!(connect.default_of(1), Some(ParamDefault::EmptyString));
        assert_eq!(connect.default_of(2), None);
        let batch = &METHODS[find_method("Пакет").unwrap()];
        assert_eq!(batch.default_of(1), Some(ParamDefault::False));
        assert!(Args::new(connect, &[]).is_err());
        assert!(Args::new(connect, &[Value::Empty]).is_ok());
        assert!(Args::new(connect, &[Value::Empty, Value::Empty]).is_ok());
        let e = Args::new(connect, &[Value::Empty, Value::Empty, Value::Empty])
            .err()
            .unwrap();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::InvalidInput, "WRONG_PARAM_COUNT")
        );
    }

    #[test]
    fn bad_input_is_reported_before_not_connected() {
        let get = &METHODS[find_method("GetContact").unwrap()];
        let Handler::Call(h) = get.handler else {
            panic!()
        };
        let bad = [Value::Float(1.5)];
        assert_eq!(
            h(None, &Args::new(get, &bad).unwrap()).unwrap_err().code,
            "INVALID_ID"
        );
        let good = [Value::Int(1)];
        assert_eq!(
            h(None, &Args::new(get, &good).unwrap()).unwrap_err().code,
            "NOT_CONNECTED"
        );
    }

    #[test]
    fn parse_event_needs_no_connection() {
        let m = &METHODS[find_method("РазобратьСобытие").unwrap()];
        assert_eq!((m.en, m.required, m.params), ("ParseEvent", 1, 3));
        let Handler::Call(h) = m.handler else {
            panic!()
        };
        let text = |s: &str| Value::Utf16(s.encode_utf16().collect());
        let body = text("event=onCrmContactDelete&data[FIELDS][ID]=9&auth[application_token]=tok");
        let ok = h(
            None,
            &Args::new(m, &[body.clone(), Value::Empty, text("tok")]).unwrap(),
        );
        let env: serde_json::Value = serde_json::from_str(&api::envelope(&ok)).unwrap();
        assert_eq!(env["result"]["event"], "ONCRMCONTACTDELETE");
        assert_eq!(env["result"]["id"], 9);
        assert_eq!(env["result"]["token_ok"], true);
        let bad = h(
            None,
            &Args::new(m, &[body, text(""), text("other")]).unwrap(),
        );
        let e = bad.unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Auth, "INVALID_APPLICATION_TOKEN")
        );
    }
}
