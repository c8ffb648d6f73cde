//! Checks the BSL samples in `bsl-samples/` against the add-in's interface table
//! (`bitrix24_1c::addin::interface`), so a sample cannot call a method the component does not
//! have, or pass it a wrong number of parameters.
//!
//! How a sample is read:
//! - `//` comments, string literals (`"..."` with `""` for a quote, continued on the next lines
//!   with `|`, `//` comment lines allowed in between, as in query texts), date literals
//!   (`'20240101'`) and preprocessor lines (`#Область`, `#Если ... Тогда`) are skipped, so text
//!   inside them is never taken for code.
//! - A **component variable** is an identifier that either
//!   1. is assigned `Новый("AddIn.B24.Bitrix24")` / `New("AddIn.B24.Bitrix24")` in the file
//!      (any case), or a copy of such a variable (`Б = А;`), or
//!   2. is named `Компонента…` or `Component…` (it starts with that word, any case): the naming
//!      convention of the samples for function parameters, module variables and structure
//!      fields (`ДополнительныеПараметры.Компонента`) that hold the object.
//!
//! Rules, for every `<component variable>.<Name>`:
//! - followed by `(`: a method call. `Name` must be a method (English or Russian name, any
//!   case), or the platform's asynchronous form of one: `НачатьВызов<Метод>(Оповещение, ...)` /
//!   `BeginCall<Method>(...)` (the first argument is the callback), `<Метод>Асинх(...)` /
//!   `<Method>Async(...)`, `НачатьПолучение<Свойство>(Оповещение)` /
//!   `НачатьУстановку<Свойство>(Оповещение, Значение)` (and `BeginGetting`/`BeginSetting`).
//!   The argument count (top-level commas; nested brackets and strings handled; `()` is 0) must
//!   be within `required..=params`, and no required argument may be left empty (`М(, 1)`).
//! - not followed by `(`: a property. `Name` must be a property; when it is assigned
//!   (`<var>.<Name> = ...` at the start of a statement) it must be writable. A method used
//!   without parentheses is an error.
//! - Every method and every property of the table must be used somewhere in the samples.
//! - Webhook URLs in string literals must use a placeholder secret (never a real-looking one).
//!
//! Failures name `file:line`, the name, and the expected and actual counts.

use bitrix24_1c::addin::interface::{find_method, find_property, METHODS, PROPERTIES};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One token of BSL source (comments and whitespace are dropped).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A string literal's value (quotes unescaped, continuation lines joined with `\n`).
    Str(String),
    /// A number or a date literal.
    Literal,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Splits BSL source into tokens. Errors (an unterminated string or date) name the line.
fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let mut line_start = true;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            line_start = true;
            i += 1;
            continue;
        }
        if ch.is_whitespace() || ch == '\u{feff}' {
            i += 1;
            continue;
        }
        let at_line_start = std::mem::replace(&mut line_start, false);
        // Comments and preprocessor lines run to the end of the line.
        if (ch == '/' && c.get(i + 1) == Some(&'/')) || (ch == '#' && at_line_start) {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start_line = line;
        if ch == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return Err(format!("line {start_line}: unterminated string")),
                    Some('"') if c.get(i + 1) == Some(&'"') => {
                        s.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\n') => {
                        // The literal goes on only on a line that starts with `|`; comment
                        // lines may stand in between.
                        line += 1;
                        i += 1;
                        loop {
                            while i < c.len() && c[i] != '\n' && c[i].is_whitespace() {
                                i += 1;
                            }
                            if c.get(i) == Some(&'/') && c.get(i + 1) == Some(&'/') {
                                while i < c.len() && c[i] != '\n' {
                                    i += 1;
                                }
                                if i < c.len() {
                                    line += 1;
                                    i += 1;
                                }
                                continue;
                            }
                            break;
                        }
                        if c.get(i) != Some(&'|') {
                            return Err(format!(
                                "line {start_line}: string not closed on its line and not \
                                 continued with `|` on line {line}"
                            ));
                        }
                        s.push('\n');
                        i += 1;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                line: start_line,
            });
            continue;
        }
        if ch == '\'' {
            i += 1;
            while i < c.len() && c[i] != '\'' {
                if c[i] == '\n' {
                    return Err(format!("line {start_line}: unterminated date literal"));
                }
                i += 1;
            }
            if i == c.len() {
                return Err(format!("line {start_line}: unterminated date literal"));
            }
            i += 1;
            out.push(Token {
                tok: Tok::Literal,
                line,
            });
            continue;
        }
        if ch.is_alphabetic() || ch == '_' {
            let b = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(c[b..i].iter().collect()),
                line,
            });
            continue;
        }
        if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Literal,
                line,
            });
            continue;
        }
        out.push(Token {
            tok: Tok::Punct(ch),
            line,
        });
        i += 1;
    }
    Ok(out)
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is_punct(t: Option<&Token>, p: char) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(c)) if *c == p)
}

/// The naming convention: `Компонента…` / `Component…`.
fn named_like_component(name: &str) -> bool {
    let l = name.to_lowercase();
    l.starts_with("компонента") || l.starts_with("component")
}

/// Identifiers assigned the component object (`X = Новый("AddIn.B24.Bitrix24")`) or a copy of
/// one (`Y = X;`), lower-cased.
fn assigned_components(t: &[Token]) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for w in t.windows(6) {
        let (Some(var), Some(new)) = (ident(w.first()), ident(w.get(2))) else {
            continue;
        };
        let class = match &w[4].tok {
            Tok::Str(s) => s.as_str(),
            _ => continue,
        };
        if is_punct(w.get(1), '=')
            && ["новый", "new"].contains(&new.to_lowercase().as_str())
            && is_punct(w.get(3), '(')
            && class.eq_ignore_ascii_case("AddIn.B24.Bitrix24")
            && is_punct(w.get(5), ')')
        {
            vars.insert(var.to_lowercase());
        }
    }
    loop {
        let before = vars.len();
        for w in t.windows(4) {
            if let (Some(a), Some(b)) = (ident(w.first()), ident(w.get(2))) {
                if is_punct(w.get(1), '=')
                    && is_punct(w.get(3), ';')
                    && vars.contains(&b.to_lowercase())
                {
                    vars.insert(a.to_lowercase());
                }
            }
        }
        if vars.len() == before {
            return vars;
        }
    }
}

/// The arguments of the call whose `(` is at `open`: each argument's token count (0 = left
/// empty), and the index of the matching `)`.
fn arguments(t: &[Token], open: usize) -> Option<(Vec<usize>, usize)> {
    let mut depth = 0usize;
    let mut args = vec![0usize];
    for (k, tok) in t.iter().enumerate().skip(open + 1) {
        match tok.tok {
            Tok::Punct('(' | '[') => depth += 1,
            Tok::Punct(')') if depth == 0 => {
                if args == [0] {
                    args.clear();
                }
                return Some((args, k));
            }
            Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
            Tok::Punct(',') if depth == 0 => {
                args.push(0);
                continue;
            }
            _ => {}
        }
        *args.last_mut().unwrap() += 1;
    }
    None
}

/// Whether the member chain ending at `var` starts a statement (so `= ...` after it is an
/// assignment, not a comparison).
fn starts_statement(t: &[Token], var: usize) -> bool {
    let mut j = var;
    while j >= 2 && is_punct(t.get(j - 1), '.') && ident(t.get(j - 2)).is_some() {
        j -= 2;
    }
    if j == 0 {
        return true;
    }
    let prev = &t[j - 1];
    match &prev.tok {
        Tok::Punct(';' | ')' | ':') => true,
        Tok::Ident(k) => [
            "тогда",
            "иначе",
            "цикл",
            "попытка",
            "исключение",
            "экспорт",
            "then",
            "else",
            "do",
            "try",
            "except",
            "export",
        ]
        .contains(&k.to_lowercase().as_str()),
        _ => false,
    }
}

/// Strips a case-insensitive prefix.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let n = prefix.chars().count();
    let head: String = s.chars().take(n).collect();
    (head.to_lowercase() == prefix.to_lowercase() && s.chars().count() > n)
        .then(|| &s[head.len()..])
}

/// Strips a case-insensitive suffix.
fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let n = suffix.chars().count();
    let total = s.chars().count();
    if total <= n {
        return None;
    }
    let cut = s.char_indices().nth(total - n)?.0;
    (s[cut..].to_lowercase() == suffix.to_lowercase()).then(|| &s[..cut])
}

/// What one sample uses, and what is wrong in it.
#[derive(Default)]
struct Report {
    errors: Vec<String>,
    methods: BTreeSet<usize>,
    properties: BTreeSet<usize>,
}

fn describe_method(i: usize) -> String {
    let m = &METHODS[i];
    format!("{}/{}({})", m.en, m.ru, m.param_names.join(", "))
}

fn expected(i: usize) -> String {
    let m = &METHODS[i];
    if m.required == m.params {
        format!("{}", m.params)
    } else {
        format!("{}..={}", m.required, m.params)
    }
}

/// Checks one sample's source; `file` names it in messages.
fn check_source(file: &str, src: &str) -> Report {
    let mut r = Report::default();
    let t = match tokenize(src) {
        Ok(t) => t,
        Err(e) => {
            r.errors.push(format!("{file}: {e}"));
            return r;
        }
    };
    let assigned = assigned_components(&t);
    let is_component = |s: &str| named_like_component(s) || assigned.contains(&s.to_lowercase());

    for (i, tok) in t.iter().enumerate() {
        if let Tok::Str(s) = &tok.tok {
            if let Some(secret) = real_looking_secret(s) {
                r.errors.push(format!(
                    "{file}:{}: a webhook URL with a real-looking secret {secret:?}; use a \
                     placeholder such as СЕКРЕТ",
                    tok.line
                ));
            }
        }
        let Some(var) = ident(Some(tok)).filter(|v| is_component(v)) else {
            continue;
        };
        if !is_punct(t.get(i + 1), '.') {
            continue;
        }
        let Some(name) = ident(t.get(i + 2)) else {
            continue;
        };
        let line = t[i + 2].line;
        let at = format!("{file}:{line}: {var}.{name}");
        if is_punct(t.get(i + 3), '(') {
            let Some((args, _)) = arguments(&t, i + 3) else {
                r.errors.push(format!("{at}: no closing parenthesis"));
                continue;
            };
            check_call(&mut r, &at, name, &args);
        } else if let Some(p) = find_property(name) {
            r.properties.insert(p);
            let assigned = is_punct(t.get(i + 3), '=') && starts_statement(&t, i);
            if assigned && !PROPERTIES[p].writable {
                r.errors.push(format!(
                    "{at}: property {}/{} is read-only but is assigned",
                    PROPERTIES[p].en, PROPERTIES[p].ru
                ));
            }
        } else if let Some(m) = find_method(name) {
            r.errors.push(format!(
                "{at}: method {} used without parentheses",
                describe_method(m)
            ));
        } else {
            r.errors
                .push(format!("{at}: the component has no property {name:?}"));
        }
    }
    r
}

/// Checks one call `<var>.<name>(args)`; `args` holds each argument's token count.
fn check_call(r: &mut Report, at: &str, name: &str, args: &[usize]) {
    // The platform's asynchronous forms.
    let begin_call = ["НачатьВызов", "BeginCall"]
        .iter()
        .find_map(|p| strip_prefix_ci(name, p))
        .and_then(find_method);
    let asynch = ["Асинх", "Async"]
        .iter()
        .find_map(|s| strip_suffix_ci(name, s))
        .and_then(find_method);
    let getting = ["НачатьПолучение", "BeginGetting"]
        .iter()
        .find_map(|p| strip_prefix_ci(name, p))
        .and_then(find_property);
    let setting = ["НачатьУстановку", "BeginSetting"]
        .iter()
        .find_map(|p| strip_prefix_ci(name, p))
        .and_then(find_property);

    let mut after = "";
    let (m, method_args) = if let Some(m) = find_method(name) {
        (m, args)
    } else if let Some(m) = begin_call.or(asynch) {
        if begin_call.is_some() {
            if args.first().copied().unwrap_or(0) == 0 {
                r.errors.push(format!(
                    "{at}: the first argument (ОписаниеОповещения) is missing"
                ));
                return;
            }
            after = " after the callback";
            (m, &args[1..])
        } else {
            (m, args)
        }
    } else if let Some(p) = getting.or(setting) {
        r.properties.insert(p);
        let want = if setting.is_some() { 2 } else { 1 };
        if args.len() != want || args.contains(&0) {
            r.errors.push(format!(
                "{at}: takes {want} argument(s) (callback{}), got {}",
                if want == 2 { ", value" } else { "" },
                args.len()
            ));
        }
        if setting.is_some() && !PROPERTIES[p].writable {
            r.errors.push(format!(
                "{at}: property {}/{} is read-only",
                PROPERTIES[p].en, PROPERTIES[p].ru
            ));
        }
        return;
    } else if let Some(p) = find_property(name) {
        r.errors.push(format!(
            "{at}: {}/{} is a property, not a method",
            PROPERTIES[p].en, PROPERTIES[p].ru
        ));
        return;
    } else {
        r.errors
            .push(format!("{at}: the component has no method {name:?}"));
        return;
    };
    r.methods.insert(m);
    let def = &METHODS[m];
    let n = method_args.len();
    if n < def.required || n > def.params {
        r.errors.push(format!(
            "{at}: {n} argument(s){after}, but {} takes {}",
            describe_method(m),
            expected(m)
        ));
        return;
    }
    for (k, &len) in method_args.iter().enumerate().take(def.required) {
        if len == 0 {
            r.errors.push(format!(
                "{at}: required parameter {} ({}) of {} is left empty",
                k + 1,
                def.param_names[k],
                describe_method(m)
            ));
        }
    }
}

/// The secret of a webhook URL in `s` when it looks real (16-ish lower-case letters and
/// digits, as Bitrix issues them) rather than a placeholder.
fn real_looking_secret(s: &str) -> Option<String> {
    let mut rest = s;
    while let Some(pos) = rest.find("/rest/") {
        rest = &rest[pos + "/rest/".len()..];
        let mut parts = rest.split('/');
        let (_user, secret) = (parts.next()?, parts.next()?);
        if secret.len() >= 10
            && secret
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Some(secret.to_string());
        }
    }
    None
}

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bsl-samples")
}

fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .expect("bsl-samples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("bsl")))
        .collect();
    files.sort();
    files
}

#[test]
fn samples_use_only_the_addin_interface_with_correct_counts() {
    let files = sample_files();
    assert!(!files.is_empty(), "no bsl-samples/*.bsl found");
    let (mut errors, mut methods, mut properties) = (Vec::new(), BTreeSet::new(), BTreeSet::new());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = format!(
            "bsl-samples/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let src = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => {
                errors.push(format!("{name}: not UTF-8"));
                continue;
            }
        };
        let r = check_source(&name, &src);
        assert!(
            !r.methods.is_empty() || !r.errors.is_empty(),
            "{name}: calls no method of the component (is the naming convention followed?)"
        );
        errors.extend(r.errors);
        methods.extend(r.methods);
        properties.extend(r.properties);
    }
    for (i, m) in METHODS.iter().enumerate() {
        if !methods.contains(&i) {
            errors.push(format!("method {}/{} is used in no sample", m.en, m.ru));
        }
    }
    for (i, p) in PROPERTIES.iter().enumerate() {
        if !properties.contains(&i) {
            errors.push(format!("property {}/{} is used in no sample", p.en, p.ru));
        }
    }
    assert!(
        errors.is_empty(),
        "the BSL samples do not match the add-in's interface:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn checker_catches_wrong_names_and_counts() {
    let src = r#"
// Компонента.НетВКомментарии(1, 2, 3) — комментарий не проверяется
Процедура Пример(Адрес) Экспорт
    Б24 = Новый("AddIn.B24.Bitrix24");
    Копия = Б24;
    Б24.Подключить(Адрес);
    Б24.НетТакогоМетода(1);
    Копия.Подключить();
    Б24.ПолучитьКонтакт(1, 2);
    Б24.ОбновитьКонтакт(, "{}");
    Б24.Версия = "2.0";
    Б24.Таймаут = 30;
    Если Б24.Версия = "2.0" Тогда
        Б24.ВызыватьИсключения = Истина;
    КонецЕсли;
    Б24.ПроверитьПодключение;
    Б24.Версия();
    Б24.НетСвойства = 1;
    Текст = "Б24.НетВСтроке(1, 2) и ""Б24.ТожеНет()""
    |Б24.НетВПродолжении(
    //|Б24.НетВЗакомментированнойСтроке(
    |)";
    Б24.Выгрузить("crm.contact.list", , ИмяФайла);
    Б24.Вызвать("crm.contact.list", Формат(Число(1), "ЧГ=0"));
    Ответ = Б24.ПолучитьКонтакт(Число("1"));
    Компонента.Пакет("[]", Ложь, 3);
    ДополнительныеПараметры.Компонента.НачатьВызовПодключить(Оповещение, Адрес);
    Компонента.НачатьВызовПодключить(Оповещение);
    Компонента.НачатьУстановкуВерсия(Оповещение, "1");
    Компонента.НачатьПолучениеПоследняяОшибка(Оповещение);
    Другой.НетТакогоМетода();
    Сообщить("FAKE_WEBHOOK");
КонецПроцедуры
"#;
    // Assembled at run time, so the repository never holds a webhook-shaped URL.
    let fake = [
        "https://portal.bitrix24.ru/rest/1/",
        "abcdefghij",
        "012345/",
    ]
    .concat();
    let src = src.replace("FAKE_WEBHOOK", &fake);
    let r = check_source("self-test.bsl", &src);
    let has = |needle: &str| r.errors.iter().any(|e| e.contains(needle));
    let all = r.errors.join("\n");
    assert!(
        has(
            r#"self-test.bsl:7: Б24.НетТакогоМетода: the component has no method "НетТакогоМетода""#
        ),
        "{all}"
    );
    assert!(
        has("self-test.bsl:8: Копия.Подключить: 0 argument(s), but Connect/Подключить(WebhookURL, SettingsJSON) takes 1..=2"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:9: Б24.ПолучитьКонтакт: 2 argument(s), but GetContact/ПолучитьКонтакт(ID) takes 1"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:10: Б24.ОбновитьКонтакт: required parameter 1 (ID)"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:11: Б24.Версия: property Version/Версия is read-only"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:16: Б24.ПроверитьПодключение: method"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:17: Б24.Версия: Version/Версия is a property"),
        "{all}"
    );
    assert!(
        has(r#"self-test.bsl:18: Б24.НетСвойства: the component has no property"#),
        "{all}"
    );
    assert!(
        has("self-test.bsl:26: Компонента.Пакет: 3 argument(s)"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:28: Компонента.НачатьВызовПодключить: 0 argument(s) after the callback"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:29: Компонента.НачатьУстановкуВерсия: property"),
        "{all}"
    );
    assert!(
        has("self-test.bsl:32: a webhook URL with a real-looking secret"),
        "{all}"
    );
    // Nothing from comments or strings, nothing from other objects, nothing else.
    assert!(!has("НетВ") && !has("ТожеНет") && !has("Другой"), "{all}");
    assert_eq!(r.errors.len(), 12, "{all}");
    for used in ["Connect", "Export", "Call", "GetContact", "Batch"] {
        assert!(r.methods.contains(&find_method(used).unwrap()), "{used}");
    }
    assert!(r.properties.contains(&find_property("LastError").unwrap()));
}

#[test]
fn tokenizer_handles_bsl_literals() {
    let t = tokenize("А = \"x\"\"y\n  |z // не комментарий\";  // комментарий\nБ = '20240101';")
        .unwrap();
    let toks: Vec<&Tok> = t.iter().map(|t| &t.tok).collect();
    assert_eq!(
        toks,
        [
            &Tok::Ident("А".into()),
            &Tok::Punct('='),
            &Tok::Str("x\"y\nz // не комментарий".into()),
            &Tok::Punct(';'),
            &Tok::Ident("Б".into()),
            &Tok::Punct('='),
            &Tok::Literal,
            &Tok::Punct(';'),
        ]
    );
    assert_eq!(t[4].line, 3);
    assert!(tokenize("А = \"открыта\nБ = 1;")
        .unwrap_err()
        .contains("line 1"));
    assert_eq!(
        arguments(&tokenize("(a, f(b, c), [d, e], \"x, y\")").unwrap(), 0).map(|a| a.0),
        Some(vec![1, 6, 5, 1])
    );
    assert_eq!(
        arguments(&tokenize("( )").unwrap(), 0).map(|a| a.0),
        Some(vec![])
    );
    assert_eq!(
        arguments(&tokenize("(, 1)").unwrap(), 0).map(|a| a.0),
        Some(vec![0, 1])
    );
}
