//! The main job: walks the customer's whole spec (`1c-bitrix24-integration.md`) through the
//! C ABI, step by step, as the spec is written:
//!
//! 0. check the webhook (`scope`);
//! 1. find the user by 1C GUID (`user.get`); its ID becomes ASSIGNED_BY_ID;
//! 2. create the company with every field of the spec's example (`crm.company.add`);
//! 3. show the bank options (`crm.contact.fields`, `crm.company.fields`);
//! 4. create the contact with every field, linked to the company by COMPANY (`crm.contact.add`);
//! 5. read the contact and change one phone by its ID (`crm.contact.get`, `crm.contact.update`);
//! 6. update the company as the spec does, phones and e-mails by their real IDs, CONTACT
//!    linking the contact (`crm.company.get`, `crm.company.update`);
//! 7. read both back (phones, e-mails, links, files, bank, GUID, CODE);
//! 8. delete both, the contact first.
//!
//! By default it runs against the embedded Bitrix24 emulator on 127.0.0.1. With
//! `B24_WEBHOOK_URL` set it runs against that portal instead; `B24_USER_GUID` then names the 1C
//! GUID of a real user (without it the user step is skipped and ASSIGNED_BY_ID is the webhook's
//! own user, from `profile`). The webhook secret is never printed. A failed step prints its
//! error envelope, deletes what the demo created and exits 1.
//!
//!     cargo run --example demo

use serde_json::{json, Map, Value};

/// Output lines are cut here, so a long portal answer cannot flood the terminal.
const WIDTH: usize = 160;
/// The 1C GUID of the user the demo adds to the emulator.
const DEMO_USER_GUID: &str = "9d1f4e5a-1c2b-4d3e-8f90-a1b2c3d4e5f6";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Contact,
    Company,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Company => "company",
        }
    }
}

/// One call into the C ABI (see `mod abi`).
enum Op<'a> {
    Call(&'a str, &'a Value),
    UserByGuid(&'a str),
    Fields(Kind),
    Add(Kind, &'a Value),
    Get(Kind, i64),
    Update(Kind, i64, &'a Value),
    Delete(Kind, i64),
}

/// The spec's field codes of one entity, which the read-back looks at.
struct Codes {
    kind: Kind,
    bank: &'static str,
    files: &'static str,
    guid: &'static str,
    code: &'static str,
    /// Where the portal lists the links: `crm.*.get` leaves the full set out.
    links_method: &'static str,
    links_key: &'static str,
    /// The link key a `crm.*.get` might carry (shown when present).
    get_links_key: &'static str,
}

const CONTACT: Codes = Codes {
    kind: Kind::Contact,
    bank: "UF_CRM_1707822731302",
    files: "UF_CRM_1707822691457",
    guid: "UF_CRM_1723100443089",
    code: "UF_CRM_1723100456115",
    links_method: "crm.contact.company.items.get",
    links_key: "COMPANY_ID",
    get_links_key: "COMPANY_IDS",
};

const COMPANY: Codes = Codes {
    kind: Kind::Company,
    bank: "UF_CRM_1707823136855",
    files: "UF_CRM_1707823223708",
    guid: "UF_CRM_1723100288587",
    code: "UF_CRM_1723100322669",
    links_method: "crm.company.contact.items.get",
    links_key: "CONTACT_ID",
    get_links_key: "CONTACT_ID",
};

/// Short English names of the spec's fields (its glossary), for the "sent" summaries.
const LABELS: &[(&str, &str)] = &[
    ("NAME", "name"),
    ("LAST_NAME", "last name"),
    ("SECOND_NAME", "patronymic"),
    ("TITLE", "name"),
    ("PHONE", "phones"),
    ("EMAIL", "e-mails"),
    ("TYPE_ID", "type"),
    ("COMMENTS", "comment"),
    ("ASSIGNED_BY_ID", "responsible"),
    ("UF_CRM_1721896329420", "legal address"),
    ("UF_CRM_1723108337023", "business address"),
    ("UF_CRM_664DBFBD43D75", "station addresses"),
    ("UF_CRM_1707822379207", "passport"),
    ("UF_CRM_1707822426950", "issued on"),
    ("UF_CRM_1707822448806", "issued by"),
    ("UF_CRM_1707822458574", "ՀԾՀ"),
    ("UF_CRM_1707822731302", "bank"),
    ("UF_CRM_1707822585830", "Հ/Հ"),
    ("UF_CRM_1707822691457", "files"),
    ("UF_CRM_1723100443089", "GUID"),
    ("UF_CRM_1723100456115", "CODE"),
    ("UF_CRM_1721909503670", "trade name"),
    ("UF_CRM_1721896430796", "legal address"),
    ("UF_CRM_1721896453819", "business address"),
    ("UF_CRM_1707823114526", "ՀՎՀՀ"),
    ("UF_CRM_1707823136855", "bank"),
    ("UF_CRM_1707823142254", "Հ/Հ"),
    ("UF_CRM_664DBFBD53217", "station addresses"),
    ("UF_CRM_1707823223708", "files"),
    ("UF_CRM_1723100322669", "CODE"),
    ("UF_CRM_1723100288587", "GUID"),
];

/// Keys whose value is worth showing in a "sent" summary (IDs and choices, not free text).
const SHOW_VALUE: &[&str] = &[
    "TYPE_ID",
    "ASSIGNED_BY_ID",
    "COMPANY",
    "CONTACT",
    "UF_CRM_1707822731302",
    "UF_CRM_1707823136855",
];

/// The spec's "Создать компанию" fields, without CONTACT: the contact does not exist yet.
fn spec_company(assigned: Option<&str>) -> Value {
    let mut f = b24_emulator::spec::company_fields();
    set_assigned(&mut f, assigned);
    f
}

/// The spec's "Создать контакт" fields, with the real company ID in COMPANY.
fn spec_contact(company: i64, assigned: Option<&str>) -> Value {
    let mut f = b24_emulator::spec::contact_fields(&company.to_string());
    set_assigned(&mut f, assigned);
    f
}

/// The spec's "16" becomes the user found by GUID; with no user, the portal picks the
/// webhook's own user.
fn set_assigned(fields: &mut Value, assigned: Option<&str>) {
    if let Some(m) = fields.as_object_mut() {
        match assigned {
            Some(id) => m.insert("ASSIGNED_BY_ID".into(), json!(id)),
            None => m.remove("ASSIGNED_BY_ID"),
        };
    }
}

/// The spec's "Обновить компанию" fields: its "9999" placeholders become the IDs read from
/// crm.company.get, and CONTACT links the new contact.
fn spec_company_update(assigned: Option<&str>, contact: i64, read: &Value) -> Value {
    let mut f = spec_company(assigned);
    if let Some(m) = f.as_object_mut() {
        for key in ["PHONE", "EMAIL"] {
            let with = with_ids(&m[key], &multi(&read[key]));
            m.insert(key.into(), with);
        }
        m.insert("CONTACT".into(), json!([contact.to_string()]));
    }
    f
}

/// Gives the n-th spec item the n-th read item's ID. VALUE_TYPE is resent because an update
/// by ID without it resets the item to WORK (Bitrix multi-field rules).
fn with_ids(spec: &Value, read: &[Item]) -> Value {
    let items = spec.as_array().cloned().unwrap_or_default();
    let items = items.into_iter().enumerate().map(|(i, mut it)| {
        if let (Some(r), Some(m)) = (read.get(i), it.as_object_mut()) {
            m.insert("ID".into(), json!(r.id));
            if !r.kind.is_empty() {
                m.insert("VALUE_TYPE".into(), json!(r.kind));
            }
        }
        it
    });
    Value::Array(items.collect())
}

// ---------------------------------------------------------------------------------------------
// Reading portal answers without trusting their shape.

/// One PHONE / EMAIL item as the portal returned it.
struct Item {
    id: String,
    kind: String,
    value: String,
}

/// A scalar as text (IDs come as strings or numbers); anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An ID greater than 0, from a number or a string of digits.
fn id_of(v: &Value) -> Option<i64> {
    let n = v
        .as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    (n > 0).then_some(n)
}

fn multi(v: &Value) -> Vec<Item> {
    let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter()
        .map(|it| Item {
            id: text(&it["ID"]),
            kind: text(&it["VALUE_TYPE"]),
            value: text(&it["VALUE"]),
        })
        .collect()
}

fn show_items(items: &[Item]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = items
        .iter()
        .map(|i| format!("ID {} {} {}", i.id, i.kind, i.value))
        .collect();
    shown.join(" | ")
}

fn ids(items: &[Item]) -> String {
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    ids.join(", ")
}

/// File IDs of a file field: an object, a list of objects, or `false` / null when empty.
fn file_ids(v: &Value) -> Vec<String> {
    let one = std::slice::from_ref(v);
    let list = v.as_array().map(Vec::as_slice).unwrap_or(one);
    list.iter()
        .filter(|f| f.is_object())
        .map(|f| text(&f["id"]))
        .collect()
}

/// IDs under `key` in a `crm.*.items.get` answer.
fn link_ids(v: &Value, key: &str) -> Vec<String> {
    let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter().map(|l| text(&l[key])).collect()
}

fn label(key: &str) -> &str {
    LABELS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, l)| l)
}

/// Prints what was sent, in short ("name, phones×2, bank 464, …"), wrapped between fields.
fn summary(fields: &Value) {
    let parts = fields.as_object().into_iter().flatten();
    let parts: Vec<String> = parts.map(|(k, v)| brief(k, v)).collect();
    let mut line = String::new();
    for part in parts {
        if !line.is_empty() && line.chars().count() + part.chars().count() + 10 > WIDTH {
            detail(&format!("{line},"));
            line.clear();
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(&part);
    }
    detail(&line);
}

fn brief(key: &str, v: &Value) -> String {
    let l = label(key);
    let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
    let by_id: Vec<String> = list.iter().filter_map(|i| i.get("ID")).map(text).collect();
    if !by_id.is_empty() {
        format!("{l} by ID {}", by_id.join(", "))
    } else if SHOW_VALUE.contains(&key) {
        format!("{l} {}", if v.is_array() { v.to_string() } else { text(v) })
    } else if v.is_array() {
        format!("{l}×{}", list.len())
    } else {
        l.to_string()
    }
}

/// Text fields (strings and lists of strings) that were sent and read back differently. The
/// multi-fields, files and links are shown on their own lines.
fn differences(sent: &Value, got: &Value, c: &Codes) -> (usize, Vec<String>) {
    let skip = ["PHONE", "EMAIL", "COMPANY", "CONTACT", c.files];
    let textual =
        |v: &Value| v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let mut checked = 0;
    let mut diffs = Vec::new();
    for (k, v) in sent.as_object().into_iter().flatten() {
        if skip.contains(&k.as_str()) || !textual(v) {
            continue;
        }
        checked += 1;
        let back = got.get(k).unwrap_or(&Value::Null);
        if back != v {
            diffs.push(format!("≠ {k} ({}): sent {v}, read {back}", label(k)));
        }
    }
    (checked, diffs)
}

// ---------------------------------------------------------------------------------------------
// Output.

fn clip(s: String) -> String {
    if s.chars().count() <= WIDTH {
        return s;
    }
    s.chars().take(WIDTH - 1).collect::<String>() + "…"
}

/// A step's headline: the method, then what was sent and what came back.
fn step(tag: &str, text: &str) {
    println!("{}", clip(format!("{tag:<26} {text}")));
}

/// A detail line under a step.
fn detail(text: &str) {
    println!("{}", clip(format!("      {text}")));
}

/// The webhook URL without its secret: `…/rest/USER_ID/***/`.
fn masked(url: &str) -> String {
    match url.split_once("/rest/") {
        Some((base, rest)) => {
            let user = rest.split('/').next().unwrap_or_default();
            format!("{base}/rest/{user}/***/")
        }
        None => "(webhook URL hidden)".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The steps.

struct Demo {
    client: abi::Client,
    /// What the demo created, so a failed step can delete it before exiting.
    created: Vec<(Kind, i64)>,
}

impl Demo {
    fn open(webhook: &str) -> Demo {
        match abi::Client::open(&json!({ "webhook_url": webhook })) {
            Ok(client) => Demo {
                client,
                created: Vec::new(),
            },
            Err(env) => {
                eprintln!("b24_client_new FAILED: {env}");
                std::process::exit(1);
            }
        }
    }

    /// Runs one call; on failure prints the error envelope, cleans up and exits 1.
    fn must(&mut self, tag: &str, op: Op) -> Value {
        let mut env = self.client.run(&op);
        if env["ok"] != json!(true) {
            eprintln!("{tag} FAILED: {env}");
            self.clean_up();
            std::process::exit(1);
        }
        if let Some(w) = env.get("warnings") {
            detail(&format!("warnings from {}: {w}", tag.trim()));
        }
        env["result"].take()
    }

    /// Deletes what a failed run created, contact first (links are kept by both sides).
    fn clean_up(&mut self) {
        while let Some((kind, id)) = self.created.pop() {
            let env = self.client.run(&Op::Delete(kind, id));
            eprintln!(
                "  clean-up: delete {} {id}: ok = {}",
                kind.name(),
                env["ok"]
            );
        }
    }

    fn add(&mut self, tag: &str, kind: Kind, fields: &Value) -> i64 {
        let body = json!({ "fields": fields });
        let result = self.must(tag, Op::Add(kind, &body));
        let Some(id) = id_of(&result) else {
            eprintln!("{tag} FAILED: the new ID is not a positive number: {result}");
            self.clean_up();
            std::process::exit(1);
        };
        self.created.push((kind, id));
        id
    }

    fn check_connection(&mut self) {
        let scopes = self.must("[0] scope", Op::Call("scope", &json!({})));
        step(
            "[0] scope",
            &format!("webhook accepted; scopes: {}", text(&scopes)),
        );
    }

    /// Step 1. Returns the user ID for ASSIGNED_BY_ID.
    fn find_user(&mut self, guid: Option<&str>) -> Option<String> {
        let tag = "[1] user.get by 1C GUID";
        let Some(guid) = guid else {
            step(tag, "skipped: B24_USER_GUID is not set");
            return self.webhook_user();
        };
        let user = self.must(tag, Op::UserByGuid(guid));
        let id = id_of(&user["ID"]).map(|n| n.to_string());
        let who = format!("{} {}", text(&user["NAME"]), text(&user["LAST_NAME"]));
        match &id {
            Some(id) => step(
                tag,
                &format!("{guid} → user ID {id} ({who}), sent as ASSIGNED_BY_ID"),
            ),
            None => step(
                tag,
                &format!("{guid} → {who}, but no ID: ASSIGNED_BY_ID not sent"),
            ),
        }
        id
    }

    /// Without a GUID, the webhook's own user (from `profile`) stands in for ASSIGNED_BY_ID.
    fn webhook_user(&mut self) -> Option<String> {
        let env = self.client.run(&Op::Call("profile", &json!({})));
        let id = id_of(&env["result"]["ID"]).map(|n| n.to_string());
        match &id {
            Some(id) => detail(&format!(
                "ASSIGNED_BY_ID = {id}, the webhook's own user (profile)"
            )),
            None => detail("ASSIGNED_BY_ID not sent: the portal assigns the webhook's user"),
        }
        id
    }

    /// Step 2.
    fn create_company(&mut self, assigned: Option<&str>) -> i64 {
        let tag = "[2] crm.company.add";
        let fields = spec_company(assigned);
        let id = self.add(tag, Kind::Company, &fields);
        let n = fields.as_object().map_or(0, Map::len);
        step(tag, &format!("sent {n} fields → company ID {id}"));
        summary(&fields);
        detail("CONTACT not sent: the contact does not exist yet; the contact's COMPANY links them (step 4)");
        id
    }

    /// Step 3: the bank's options, the spec's choice marked with `*`. Returns the field list.
    fn show_bank(&mut self, tag: &str, kind: Kind, field: &str, chosen: &str) -> Value {
        let fields = self.must(tag, Op::Fields(kind));
        let f = &fields[field];
        let items = f["items"].as_array().map(Vec::as_slice).unwrap_or_default();
        let title = f["formLabel"]
            .as_str()
            .or(f["title"].as_str())
            .unwrap_or("?");
        let kind_name = text(&f["type"]);
        step(
            tag,
            &format!("{field} «{title}» ({kind_name}): {} options", items.len()),
        );
        for it in items {
            let (id, value) = (text(&it["ID"]), text(&it["VALUE"]));
            let mark = if id == chosen { "* " } else { "  " };
            let note = if id == chosen {
                "   ← the spec's choice"
            } else {
                ""
            };
            detail(&format!("{mark}{id:>4}  {value}{note}"));
        }
        if !items.iter().any(|it| text(&it["ID"]) == chosen) {
            detail(&format!(
                "the spec's {chosen} is not an option of {field} on this portal"
            ));
        }
        fields
    }

    /// Step 3 for both entities. Returns their field lists.
    fn show_banks(&mut self) -> (Value, Value) {
        let contact = self.show_bank("[3] crm.contact.fields", Kind::Contact, CONTACT.bank, "464");
        let company = self.show_bank("    crm.company.fields", Kind::Company, COMPANY.bank, "259");
        detail(&format!(
            "the spec names crm.contact.fields for the company's bank too; {} is a company field, \
             so the demo reads it from crm.company.fields",
            COMPANY.bank
        ));
        (contact, company)
    }

    /// Step 4.
    fn create_contact(&mut self, company: i64, assigned: Option<&str>) -> i64 {
        let tag = "[4] crm.contact.add";
        let fields = spec_contact(company, assigned);
        let id = self.add(tag, Kind::Contact, &fields);
        let n = fields.as_object().map_or(0, Map::len);
        step(
            tag,
            &format!("sent {n} fields → contact ID {id}, linked to company {company}"),
        );
        summary(&fields);
        id
    }

    /// Step 5: the spec's contact update gives the second phone +37498888889; change just that
    /// item, by the ID crm.contact.get returned. The spec's add sent one number twice, and the
    /// portal keeps equal values once (crm/lib/Multifield/Collection.php `add`): with one phone
    /// back, the second number is added as a new item (no ID) and the first stays.
    fn change_phone(&mut self, contact: i64) {
        let got = self.must("[5] crm.contact.get", Op::Get(Kind::Contact, contact));
        let phones = multi(&got["PHONE"]);
        step(
            "[5] crm.contact.get",
            &format!("PHONE: {}", show_items(&phones)),
        );
        let tag = "    crm.contact.update";
        let (item, what) = match phones.as_slice() {
            [] => return detail("no phone came back, so there is none to change by ID"),
            [only] => {
                detail("the add sent +37498888888 twice; the portal kept it once");
                let what = format!("PHONE [new item +37498888889; ID {} kept]", only.id);
                (
                    json!({"VALUE": "+37498888889", "VALUE_TYPE": only.kind}),
                    what,
                )
            }
            [.., target] => {
                let item =
                    json!({"ID": target.id, "VALUE": "+37498888889", "VALUE_TYPE": target.kind});
                let others: Vec<&str> = phones
                    .iter()
                    .map(|p| p.id.as_str())
                    .filter(|i| *i != target.id)
                    .collect();
                let what = format!(
                    "PHONE [ID {}: {} → +37498888889]; untouched: ID {}",
                    target.id,
                    target.value,
                    others.join(", ")
                );
                (item, what)
            }
        };
        let body = json!({"fields": {"PHONE": [item]}});
        let result = self.must(tag, Op::Update(Kind::Contact, contact, &body));
        step(tag, &format!("{what} → {result}"));
    }

    /// Step 6. Returns the sent fields and the company's file IDs before the update.
    fn update_company(
        &mut self,
        company: i64,
        contact: i64,
        assigned: Option<&str>,
    ) -> (Value, Vec<String>) {
        let got = self.must("[6] crm.company.get", Op::Get(Kind::Company, company));
        let (phones, emails) = (multi(&got["PHONE"]), multi(&got["EMAIL"]));
        let files = file_ids(&got[COMPANY.files]);
        let read = format!("PHONE IDs {}; EMAIL IDs {}", ids(&phones), ids(&emails));
        step(
            "[6] crm.company.get",
            &format!("{read}: they replace the spec's \"9999\""),
        );
        let fields = spec_company_update(assigned, contact, &got);
        let body = json!({ "fields": fields });
        let tag = "    crm.company.update";
        let result = self.must(tag, Op::Update(Kind::Company, company, &body));
        let n = fields.as_object().map_or(0, Map::len);
        step(
            tag,
            &format!("sent {n} fields, CONTACT [{contact}] → {result}"),
        );
        summary(&fields);
        (fields, files)
    }

    /// Step 7 for one entity: the fields that matter, then the other sent fields compared.
    fn read_back(&mut self, r: &ReadBack) {
        let (c, id) = (r.codes, r.id);
        let tag = format!("[7] crm.{}.get", c.kind.name());
        let got = self.must(&tag, Op::Get(c.kind, id));
        let title = match c.kind {
            Kind::Contact => format!("{} {}", text(&got["NAME"]), text(&got["LAST_NAME"])),
            Kind::Company => text(&got["TITLE"]),
        };
        step(&tag, &format!("{} {id}: {title}", c.kind.name()));
        detail(&format!("PHONE  {}", show_items(&multi(&got["PHONE"]))));
        detail(&format!("EMAIL  {}", show_items(&multi(&got["EMAIL"]))));
        self.show_links(r, &got);
        show_files(r, &got);
        let bank = text(&got[c.bank]);
        let bank_is = bank_name(r.banks, c.bank, &bank);
        detail(&format!("bank   {}: {bank} {bank_is}", c.bank));
        let (guid, code) = (text(&got[c.guid]), text(&got[c.code]));
        detail(&format!("GUID   {guid:?}   CODE {code:?}"));
        let (checked, diffs) = differences(r.sent, &got, c);
        let same = checked - diffs.len();
        detail(&format!(
            "{same} of {checked} other sent text fields read back as sent"
        ));
        for d in diffs {
            detail(&d);
        }
    }

    /// The link, read where the portal keeps it (`crm.*.get` does not list the full set).
    fn show_links(&mut self, r: &ReadBack, got: &Value) {
        let c = r.codes;
        let params = json!({ "id": r.id });
        let links = self.must(c.links_method, Op::Call(c.links_method, &params));
        let linked = link_ids(&links, c.links_key);
        let in_get = match got.get(c.get_links_key) {
            Some(v) => format!("crm.{}.get {}: {v}", c.kind.name(), c.get_links_key),
            None => format!("crm.{}.get has no {}", c.kind.name(), c.get_links_key),
        };
        let primary = match c.kind {
            Kind::Contact => format!("COMPANY_ID {} (primary); ", text(&got["COMPANY_ID"])),
            Kind::Company => String::new(),
        };
        let other = if c.kind == Kind::Contact {
            Kind::Company
        } else {
            Kind::Contact
        };
        let not = if linked.contains(&r.linked_to.to_string()) {
            ""
        } else {
            "NOT "
        };
        let verdict = format!("{not}linked to {} {}", other.name(), r.linked_to);
        let (method, key) = (c.links_method, c.links_key);
        let to = format!("{method} → {key} [{}]: {verdict}", linked.join(", "));
        detail(&format!("links  {primary}{in_get}; {to}"));
    }

    /// Step 8: the contact first, then the company it is linked to.
    fn delete_both(&mut self, contact: i64, company: i64) {
        let a = self.must("[8] crm.contact.delete", Op::Delete(Kind::Contact, contact));
        self.created.retain(|e| *e != (Kind::Contact, contact));
        let b = self.must("[8] crm.company.delete", Op::Delete(Kind::Company, company));
        self.created.retain(|e| *e != (Kind::Company, company));
        step(
            "[8] crm.contact.delete",
            &format!("ID {contact} → {a}; crm.company.delete ID {company} → {b}"),
        );
    }
}

/// What step 7 needs to know about one entity.
struct ReadBack<'a> {
    codes: &'a Codes,
    id: i64,
    /// The other entity's ID, which the links must name.
    linked_to: i64,
    sent: &'a Value,
    banks: &'a Value,
    /// The company's file IDs before its update (the update uploads the files again).
    files_before: Option<&'a [String]>,
}

fn show_files(r: &ReadBack, got: &Value) {
    let field = r.codes.files;
    let files = file_ids(&got[field]).join(", ");
    let names = "the portal returns IDs and download URLs, not names";
    detail(&format!(
        "files  {field}: IDs {files} (sent test1.txt, test2.txt; {names})"
    ));
    if let Some(before) = r.files_before {
        let before = before.join(", ");
        detail(&format!(
            "       IDs before the update: {before} (the update uploaded both again)"
        ));
    }
}

/// The VALUE of enumeration item `id` of `field` in a `crm.*.fields` answer.
fn bank_name(fields: &Value, field: &str, id: &str) -> String {
    let items = fields[field]["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let found = items.iter().find(|it| text(&it["ID"]) == id);
    found.map_or("(not an option)".into(), |it| {
        format!("({})", text(&it["VALUE"]))
    })
}

/// The portal to use: B24_WEBHOOK_URL, or the embedded emulator with one user that has a GUID.
fn target() -> (Option<b24_emulator::Emulator>, String, Option<String>) {
    let env = |k| std::env::var(k).ok().filter(|s: &String| !s.is_empty());
    if let Some(url) = env("B24_WEBHOOK_URL") {
        return (None, url, env("B24_USER_GUID"));
    }
    let emu = match b24_emulator::Emulator::start_default() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("demo: the emulator did not start on 127.0.0.1: {e}");
            std::process::exit(1);
        }
    };
    emu.add_user(
        json!({"NAME": "Армен", "LAST_NAME": "Петросян", "EMAIL": "armen@example.com",
        "ACTIVE": true, "UF_USR_1722587885970": DEMO_USER_GUID}),
    );
    let url = emu.webhook_url();
    (Some(emu), url, Some(DEMO_USER_GUID.into()))
}

fn main() {
    let (emulator, webhook, guid) = target();
    let against = if emulator.is_some() {
        "the embedded emulator"
    } else {
        "B24_WEBHOOK_URL"
    };
    println!(
        "bitrix24-1c {} demo: the customer's spec through the C ABI",
        bitrix24_1c::VERSION
    );
    println!("portal: {against}, {}", masked(&webhook));
    let mut d = Demo::open(&webhook);
    d.check_connection();
    let assigned = d.find_user(guid.as_deref());
    let assigned = assigned.as_deref();
    let company = d.create_company(assigned);
    let (contact_banks, company_banks) = d.show_banks();
    let contact = d.create_contact(company, assigned);
    d.change_phone(contact);
    let (company_sent, files_before) = d.update_company(company, contact, assigned);
    let contact_sent = spec_contact(company, assigned);
    d.read_back(&ReadBack {
        codes: &CONTACT,
        id: contact,
        linked_to: company,
        sent: &contact_sent,
        banks: &contact_banks,
        files_before: None,
    });
    d.read_back(&ReadBack {
        codes: &COMPANY,
        id: company,
        linked_to: contact,
        sent: &company_sent,
        banks: &company_banks,
        files_before: Some(&files_before),
    });
    d.delete_both(contact, company);
    drop(d);
    drop(emulator);
    println!("demo: done, every step of the spec succeeded");
}

/// Everything `unsafe` in the demo: calling the C ABI and owning the strings it returns.
mod abi {
    use super::{Kind, Op};
    use bitrix24_1c::ffi::*;
    use serde_json::{json, Value};
    use std::ffi::{c_char, CStr, CString};
    use std::ptr;

    /// A live `B24Client *`, freed once on drop.
    pub struct Client(*mut B24Client);

    /// serde_json escapes NUL and environment variables cannot hold one, so this never fails
    /// in practice; an empty string would come back as an `invalid_input` envelope anyway.
    fn c(s: &str) -> CString {
        CString::new(s).unwrap_or_default()
    }

    impl Client {
        pub fn open(config: &Value) -> Result<Client, Value> {
            let config = c(&config.to_string());
            let mut error: *mut c_char = ptr::null_mut();
            // SAFETY: a NUL-terminated string and a writable out-pointer, as the header asks.
            let raw = unsafe { b24_client_new(config.as_ptr(), &mut error) };
            if raw.is_null() {
                Err(owned(error))
            } else {
                Ok(Client(raw))
            }
        }

        /// Runs one call and returns its envelope, parsed.
        pub fn run(&self, op: &Op) -> Value {
            let (a, b) = match op {
                Op::Call(method, params) => (c(method), c(&params.to_string())),
                Op::UserByGuid(guid) => (c(guid), c("")),
                Op::Add(_, body) | Op::Update(_, _, body) => (c(&body.to_string()), c("")),
                _ => (c(""), c("")),
            };
            let (h, a, b) = (self.0.cast_const(), a.as_ptr(), b.as_ptr());
            // SAFETY: `h` is live until drop; `a` and `b` outlive the call; the returned
            // string is handed to `owned`, which frees it once.
            let p = unsafe {
                match *op {
                    Op::Call(..) => b24_call(h, a, b),
                    Op::UserByGuid(_) => b24_get_user_by_guid(h, a),
                    Op::Fields(Kind::Contact) => b24_contact_fields(h),
                    Op::Fields(Kind::Company) => b24_company_fields(h),
                    Op::Add(Kind::Contact, _) => b24_create_contact(h, a),
                    Op::Add(Kind::Company, _) => b24_create_company(h, a),
                    Op::Get(Kind::Contact, id) => b24_get_contact(h, id),
                    Op::Get(Kind::Company, id) => b24_get_company(h, id),
                    Op::Update(Kind::Contact, id, _) => b24_update_contact(h, id, a),
                    Op::Update(Kind::Company, id, _) => b24_update_company(h, id, a),
                    Op::Delete(Kind::Contact, id) => b24_delete_contact(h, id),
                    Op::Delete(Kind::Company, id) => b24_delete_company(h, id),
                }
            };
            owned(p)
        }
    }

    impl Drop for Client {
        fn drop(&mut self) {
            // SAFETY: the handle came from b24_client_new and this is its only free.
            unsafe { b24_client_free(self.0) }
        }
    }

    /// Takes ownership of a string the library returned: copies it, frees it, parses it.
    fn owned(p: *mut c_char) -> Value {
        if p.is_null() {
            return json!({"ok": false, "error": {"code": "NULL", "description": "no envelope"}});
        }
        // SAFETY: `p` is a NUL-terminated string from this library, not yet freed; it is
        // freed here, once, after the copy.
        let text = unsafe {
            let t = CStr::from_ptr(p).to_string_lossy().into_owned();
            b24_string_free(p);
            t
        };
        serde_json::from_str(&text).unwrap_or_else(
            |_| json!({"ok": false, "error": {"code": "NOT_JSON", "description": text}}),
        )
    }
}
