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
//! Rules beyond names and counts (each has a unit test on an inline module below). A
//! **procedure** is `Процедура|Функция|Procedure|Function Имя(...) [Экспорт] ... Конец...`; its
//! directive is a `&НаКлиенте`, `&НаСервере`, `&НаСервереБезКонтекста`,
//! `&НаКлиентеНаСервереБезКонтекста`, `&НаКлиентеНаСервере` (or English) right before it
//! (`Асинх` may stand in between); annotations such as `&Перед("...")` are not directives.
//! - **Directives.** A module that uses any compilation directive (a form or command module)
//!   must put one on every procedure that calls the add-in: a component method call, or
//!   `ПодключитьВнешнююКомпоненту`, `ПодключитьКомпонентуИзМакета`, `НачатьПодключение…`,
//!   `НачатьУстановку…` (also inside a string passed to `Вычислить`). A module without any
//!   directive (a common, manager, object or HTTP-service module) is not checked: where its code
//!   runs is set by the module's properties, not in the text.
//! - **Attachment is guarded.** Every `ПодключитьВнешнююКомпоненту` / `AttachAddIn`,
//!   `ПодключитьВнешнююКомпонентуАсинх`, `ПодключитьКомпонентуИзМакета` (any module prefix, e.g.
//!   `ОбщегоНазначения.`) and every `Вычислить("ПодключитьВнешнююКомпоненту(...)")` lies between
//!   `Попытка` and its `Исключение` (safe mode and security profiles make it raise), and its result
//!   is used (assigned or tested), not dropped as a statement. `НачатьПодключениеВнешнейКомпоненты`
//!   and `НачатьУстановкуВнешнейКомпоненты` are either inside `Попытка` or get a notification with
//!   an error handler: `Новый ОписаниеОповещения(Имя, Модуль, Доп, "ОбработкаОшибки", Модуль)`
//!   inline, or assigned to the variable passed earlier in the same procedure.
//! - **No `ТипПодключенияВнешнейКомпоненты` identifier.** Compatibility modes 8.3.20 and older do
//!   not know the type, so a module naming it does not compile there; it may appear only inside
//!   a string (for `Вычислить`). The English name is not checked.
//! - **Callbacks.** For `Новый ОписаниеОповещения("Имя", ЭтотОбъект|ЭтаФорма, ...)` the procedure
//!   `Имя` must be in the same file and `Экспорт`; so must the error handler named 4th (with
//!   `ЭтотОбъект` 5th), which takes 3 parameters (ИнформацияОбОшибке, СтандартнаяОбработка,
//!   ДополнительныеПараметры). When the notification goes straight (inline, or through a variable
//!   assigned in the same procedure) as the first argument of a platform call whose callback shape
//!   is known, the parameter count is checked: `<компонента>.НачатьВызов<Метод>` 3 (РезультатВызова,
//!   ПараметрыВызова, ДополнительныеПараметры), `НачатьПолучение<Свойство>` 2 (Значение, Доп.),
//!   `НачатьУстановку<Свойство>` 1 (Доп.), `НачатьПодключениеВнешнейКомпоненты` 2 (Подключено,
//!   Доп.), `НачатьУстановкуВнешнейКомпоненты` 1 (Доп. only). Sources: the reference
//!   `/work/shared/reference/native-api.md` §3.2 for the async forms, and 1C's own БСП
//!   (English edition, CC BY 4.0; the client module that implements `InstallAddInSSL`, read
//!   through the code search): its `BeginInstallAddIn` notification
//!   `InstallAddInSSLAfterInstallationAttempt(Context)` and error handler
//!   `InstallAddInSSLOnProcessError(ErrorInformation, StandardProcessing, Context)`, and
//!   `BeginAttachingAddIn` callbacks `(Connected, AdditionalParameters)`. A notification handed to
//!   the module's own procedures is checked for existence and `Экспорт` only.
//! - **Session-zone dates.** `ЛокальнаяДатаСоСмещением` / `LocalDateWithOffset` (the offset of
//!   the computer's zone) and `ТекущаяДата()` / `CurrentDate()` (the computer's clock) are
//!   refused; dates come from `ТекущаяДатаСеанса()` and `ЧасовойПоясСеанса()`.
//! - **No fresh GUID in an update.** `Новый УникальныйИдентификатор` / `New UUID` in a procedure
//!   whose name contains `Обновить` or `Update`. A GUID made in a helper the update calls is not
//!   seen.
//! - **No `VALUE_TYPE` forced to `"WORK"`.** Refused: `"VALUE_TYPE", "WORK"` (or `:`) side by
//!   side; `Новый Структура("…, VALUE_TYPE, …", …, "WORK", …)` at that key's position; a
//!   parameter default `= "WORK"`; `"WORK"` passed directly as a call argument inside a loop body.
//!   `Тип = "WORK"` (an assignment, e.g. a mapping's fallback) is allowed.
//!
//! Failures name `file:line`, the name, and the expected and actual counts.

use bitrix24_1c::addin::interface::{find_method, find_property, METHODS, PROPERTIES};
use std::collections::BTreeSet;
use std::ops::Range;
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
    check_rules(file, &t, &is_component, &mut r.errors);
    r
}

/// The argument spans of the call whose `(` is at `open` (token ranges, empty for a left-out
/// argument), and the index of the matching `)`.
fn argument_spans(t: &[Token], open: usize) -> Option<(Vec<Range<usize>>, usize)> {
    let (counts, close) = arguments(t, open)?;
    let mut spans = Vec::with_capacity(counts.len());
    let mut at = open + 1;
    for n in counts {
        spans.push(at..at + n);
        at += n + 1; // the argument, then its comma
    }
    Some((spans, close))
}

fn lower(t: Option<&Token>) -> Option<String> {
    ident(t).map(str::to_lowercase)
}

fn is_word(t: Option<&Token>, words: &[&str]) -> bool {
    lower(t).is_some_and(|w| words.contains(&w.as_str()))
}

fn is_str(t: Option<&Token>, value: &str) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Str(s)) if s == value)
}

/// Compilation directives (`&НаКлиенте`, ...), lower-cased; extension annotations such as
/// `&Перед("...")` are not among them.
const DIRECTIVES: &[&str] = &[
    "наклиенте",
    "насервере",
    "насерверебезконтекста",
    "наклиентенасерверебезконтекста",
    "наклиентенасервере",
    "atclient",
    "atserver",
    "atservernocontext",
    "atclientatservernocontext",
    "atclientatserver",
];

/// Synchronous attachment: its Boolean (or object) must be checked, inside `Попытка`.
const ATTACH_SYNC: &[&str] = &[
    "подключитьвнешнююкомпоненту",
    "attachaddin",
    "подключитьвнешнююкомпонентуасинх",
    "attachaddinasync",
    "подключитькомпонентуизмакета",
    "attachaddinfromtemplate",
];

/// Asynchronous attachment and installation: inside `Попытка` or with an error handler.
const ATTACH_ASYNC: &[&str] = &[
    "начатьподключениевнешнейкомпоненты",
    "beginattachingaddin",
    "начатьустановкувнешнейкомпоненты",
    "begininstalladdin",
];

/// The module that `Новый ОписаниеОповещения("Имя", <this>)` names: this very file.
const THIS_MODULE: &[&str] = &["этотобъект", "thisobject", "этаформа", "thisform"];

/// One procedure or function of a module.
#[derive(Debug)]
struct Proc {
    name: String,
    params: usize,
    export: bool,
    directive: Option<String>,
    line: usize,
    /// From the `Процедура` keyword to its `КонецПроцедуры`.
    span: Range<usize>,
}

/// The procedures and functions of a module, in order.
fn procedures(t: &[Token]) -> Vec<Proc> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let head = is_word(t.get(i), &["процедура", "функция", "procedure", "function"])
            && !(i > 0 && is_punct(t.get(i - 1), '.'))
            && is_punct(t.get(i + 2), '(');
        let (Some(name), true) = (ident(t.get(i + 1)), head) else {
            i += 1;
            continue;
        };
        let Some((params, close)) = arguments(t, i + 2) else {
            i += 1;
            continue;
        };
        let mut d = i;
        if d > 0 && is_word(t.get(d - 1), &["асинх", "async"]) {
            d -= 1;
        }
        let directive = (d >= 2 && is_punct(t.get(d - 2), '&'))
            .then(|| ident(t.get(d - 1)))
            .flatten()
            .filter(|w| DIRECTIVES.contains(&w.to_lowercase().as_str()))
            .map(str::to_string);
        let end = (close..t.len())
            .find(|&k| {
                is_word(
                    t.get(k),
                    &[
                        "конецпроцедуры",
                        "конецфункции",
                        "endprocedure",
                        "endfunction",
                    ],
                )
            })
            .unwrap_or(t.len());
        out.push(Proc {
            name: name.to_string(),
            params: params.len(),
            export: is_word(t.get(close + 1), &["экспорт", "export"]),
            directive,
            line: t[i].line,
            span: i..end,
        });
        i = end;
    }
    out
}

/// For every token, whether it lies between a `Попытка` and its `Исключение`.
fn inside_try(t: &[Token]) -> Vec<bool> {
    let mut inside = vec![false; t.len()];
    let mut open = Vec::new();
    for (i, tok) in t.iter().enumerate() {
        match lower(Some(tok)).as_deref() {
            Some("попытка" | "try") => open.push(i),
            Some("исключение" | "except") => {
                if let Some(start) = open.pop() {
                    inside[start..i].iter_mut().for_each(|b| *b = true);
                }
            }
            _ => {}
        }
    }
    inside
}

/// For every token, whether it lies in a loop body (`Для ... Цикл` / `Пока ... Цикл` to
/// `КонецЦикла`).
fn inside_loop(t: &[Token]) -> Vec<bool> {
    let mut inside = vec![false; t.len()];
    let mut depth = 0usize;
    for (i, tok) in t.iter().enumerate() {
        match lower(Some(tok)).as_deref() {
            Some("цикл" | "do") => depth += 1,
            Some("конеццикла" | "enddo") => depth = depth.saturating_sub(1),
            _ => {}
        }
        inside[i] = depth > 0;
    }
    inside
}

/// `Новый ОписаниеОповещения(` / `New NotifyDescription(` at `i`: the spans of its arguments.
fn notify_description(t: &[Token], i: usize) -> Option<Vec<Range<usize>>> {
    if !is_word(t.get(i), &["новый", "new"])
        || !is_word(t.get(i + 1), &["описаниеоповещения", "notifydescription"])
        || !is_punct(t.get(i + 2), '(')
    {
        return None;
    }
    argument_spans(t, i + 2).map(|a| a.0)
}

/// A string argument that is the whole argument.
fn string_arg<'a>(t: &'a [Token], span: Option<&Range<usize>>) -> Option<&'a str> {
    let span = span?;
    match (span.len(), t.get(span.start).map(|t| &t.tok)) {
        (1, Some(Tok::Str(s))) => Some(s),
        _ => None,
    }
}

/// The call that takes the notification created at `new` as its first argument: the callee's
/// name and whether it is called on a component variable. Follows `V = Новый ...;` to the
/// first later call in `scope` that passes `V` first.
fn notification_consumer<'a>(
    t: &'a [Token],
    new: usize,
    scope: &Range<usize>,
    is_component: &dyn Fn(&str) -> bool,
) -> Option<(&'a str, bool)> {
    let callee = |open: usize| -> Option<(&'a str, bool)> {
        let name = ident(t.get(open.checked_sub(1)?))?;
        let on_component = open >= 3
            && is_punct(t.get(open - 2), '.')
            && ident(t.get(open - 3)).is_some_and(is_component);
        Some((name, on_component))
    };
    if is_punct(t.get(new.checked_sub(1)?), '(') {
        return callee(new - 1);
    }
    if new >= 2 && is_punct(t.get(new - 1), '=') && starts_statement(t, new - 2) {
        let var = ident(t.get(new - 2))?.to_lowercase();
        return (new..scope.end).find_map(|k| {
            (lower(t.get(k)).as_deref() == Some(var.as_str())
                && is_punct(t.get(k - 1), '(')
                && (is_punct(t.get(k + 1), ',') || is_punct(t.get(k + 1), ')')))
            .then(|| callee(k - 1))
            .flatten()
        });
    }
    None
}

/// The parameters the platform passes to a callback of `callee` (see the module doc).
fn callback_params(callee: &str, on_component: bool) -> Option<usize> {
    let prefixed = |ps: &[&str]| ps.iter().any(|p| strip_prefix_ci(callee, p).is_some());
    if on_component {
        if prefixed(&["НачатьВызов", "BeginCall"]) {
            return Some(3);
        }
        if prefixed(&["НачатьПолучение", "BeginGetting"]) {
            return Some(2);
        }
        if prefixed(&["НачатьУстановку", "BeginSetting"]) {
            return Some(1);
        }
        return None;
    }
    match callee.to_lowercase().as_str() {
        "начатьподключениевнешнейкомпоненты" | "beginattachingaddin" => {
            Some(2)
        }
        "начатьустановкувнешнейкомпоненты" | "begininstalladdin" => {
            Some(1)
        }
        _ => None,
    }
}

/// Whether the notification passed first to the call at `open` has an error handler: an inline
/// `Новый ОписаниеОповещения(..., "ОбработкаОшибки", ЭтотОбъект)`, or a variable assigned one
/// earlier in `scope`.
fn has_error_handler(t: &[Token], open: usize, scope: &Range<usize>) -> bool {
    let with_handler = |new: usize| {
        notify_description(t, new).is_some_and(|a| a.get(3).is_some_and(|s| !s.is_empty()))
    };
    let Some((args, _)) = argument_spans(t, open) else {
        return false;
    };
    let Some(first) = args.first() else {
        return false;
    };
    if with_handler(first.start) {
        return true;
    }
    let Some(var) = (first.len() == 1)
        .then(|| lower(t.get(first.start)))
        .flatten()
    else {
        return false;
    };
    (scope.start..first.start).rev().any(|k| {
        lower(t.get(k)).as_deref() == Some(var.as_str())
            && is_punct(t.get(k + 1), '=')
            && with_handler(k + 2)
    })
}

/// The rules beyond names and counts (see the module doc), for one module's tokens.
fn check_rules(
    file: &str,
    t: &[Token],
    is_component: &dyn Fn(&str) -> bool,
    errors: &mut Vec<String>,
) {
    let before = errors.len();
    let procs = procedures(t);
    let proc_at = |i: usize| procs.iter().find(|p| p.span.contains(&i));
    let uses_directives = t
        .windows(2)
        .any(|w| is_punct(w.first(), '&') && is_word(w.get(1), DIRECTIVES));
    let tried = inside_try(t);
    let looped = inside_loop(t);
    let whole = 0..t.len();
    let mut undirected = BTreeSet::new();
    let mut work_lines = BTreeSet::new();

    for (i, tok) in t.iter().enumerate() {
        let line = tok.line;
        let scope = proc_at(i).map_or(whole.clone(), |p| p.span.clone());
        let word = lower(Some(tok));
        let called = is_punct(t.get(i + 1), '(');

        // What calls the add-in: a component method, or attaching / installing it.
        let component_call = ident(Some(tok)).is_some_and(is_component)
            && is_punct(t.get(i + 1), '.')
            && is_punct(t.get(i + 3), '(');
        let evaluated_attach = called
            && is_word(Some(tok), &["вычислить", "eval"])
            && argument_spans(t, i + 1).is_some_and(|(a, _)| {
                string_arg(t, a.first()).is_some_and(|s| {
                    ATTACH_SYNC
                        .iter()
                        .any(|n| s.to_lowercase().contains(&format!("{n}(")))
                })
            });
        let sync_attach = called && is_word(Some(tok), ATTACH_SYNC);
        let async_attach = called && is_word(Some(tok), ATTACH_ASYNC);
        if component_call || sync_attach || async_attach || evaluated_attach {
            if let Some(p) = proc_at(i) {
                if uses_directives && p.directive.is_none() && undirected.insert(p.span.start) {
                    errors.push(format!(
                        "{file}:{}: {} calls the add-in but has no compilation directive \
                         (&НаКлиенте, &НаСервере, ...); this module uses directives, so every \
                         procedure that calls the add-in needs one",
                        p.line, p.name
                    ));
                }
            }
        }
        let name = ident(Some(tok)).unwrap_or_default();
        if (sync_attach || evaluated_attach) && !tried[i] {
            errors.push(format!(
                "{file}:{line}: {name} outside Попытка ... Исключение: attaching raises in \
                 safe mode, under a security profile that does not allow the add-in, or on an \
                 unsupported OS"
            ));
        }
        if sync_attach {
            // `Компонента = ОбщегоНазначения.ПодключитьКомпонентуИзМакета(...)` starts at the
            // module name.
            let mut head = i;
            if head >= 2 && is_punct(t.get(head - 1), '.') && ident(t.get(head - 2)).is_some() {
                head -= 2;
            }
            let awaited = head > 0 && is_word(t.get(head - 1), &["ждать", "await"]);
            let start = if awaited { head - 1 } else { head };
            if starts_statement(t, start) {
                errors.push(format!(
                    "{file}:{line}: the result of {name} is ignored: check the Boolean (or the \
                     object) it returns"
                ));
            }
        }
        if async_attach && !tried[i] && !has_error_handler(t, i + 1, &scope) {
            errors.push(format!(
                "{file}:{line}: {name} without an error handler: give the ОписаниеОповещения \
                 an error handler (4th and 5th parameters) or put the call in Попытка"
            ));
        }

        // The attachment type does not exist in old compatibility modes.
        if word.as_deref() == Some("типподключениявнешнейкомпоненты")
        {
            errors.push(format!(
                "{file}:{line}: ТипПодключенияВнешнейКомпоненты used directly: old \
                 compatibility modes reject the type; pass it inside a string to Вычислить"
            ));
        }

        // Dates from the OS zone instead of the session's.
        match word.as_deref() {
            Some("локальнаядатасосмещением" | "localdatewithoffset") => {
                errors.push(format!(
                "{file}:{line}: {name} takes the offset from the computer's time zone, not the \
                 session's: build the date from ЧасовойПоясСеанса()"
            ))
            }
            Some("текущаядата" | "currentdate") if called => errors.push(format!(
                "{file}:{line}: {name}() is the computer's clock and zone: use \
                 ТекущаяДатаСеанса()"
            )),
            _ => {}
        }

        // A new GUID in an update: the object's GUID must come from its reference.
        if is_word(Some(tok), &["новый", "new"])
            && is_word(t.get(i + 1), &["уникальныйидентификатор", "uuid"])
        {
            if let Some(p) = proc_at(i) {
                let n = p.name.to_lowercase();
                if n.contains("обновить") || n.contains("update") {
                    errors.push(format!(
                        "{file}:{line}: a new GUID in {}: an update must send the object's own \
                         GUID (Строка(Ссылка.УникальныйИдентификатор())), never a fresh one",
                        p.name
                    ));
                }
            }
        }

        // VALUE_TYPE forced to WORK for every phone.
        let work_for_value_type = |k: usize| {
            is_str(t.get(k), "WORK")
                && k >= 2
                && (is_punct(t.get(k - 1), ',') || is_punct(t.get(k - 1), ':'))
                && is_str(t.get(k - 2), "VALUE_TYPE")
        };
        let forced = work_for_value_type(i)
            || (is_str(Some(tok), "WORK")
                && looped[i]
                && (is_punct(t.get(i - 1), ',') || is_punct(t.get(i - 1), '('))
                && (is_punct(t.get(i + 1), ',') || is_punct(t.get(i + 1), ')')))
            || (is_str(Some(tok), "WORK")
                && is_punct(t.get(i - 1), '=')
                && proc_at(i).is_some_and(|p| {
                    // A parameter's default: `ТипЗначения = "WORK"` in the header.
                    p.span.start + 2 < i
                        && argument_spans(t, p.span.start + 2).is_some_and(|(_, close)| i < close)
                }));
        let structure_work = is_word(Some(tok), &["новый", "new"])
            && is_word(t.get(i + 1), &["структура", "structure"])
            && is_punct(t.get(i + 2), '(')
            && argument_spans(t, i + 2).is_some_and(|(a, _)| {
                string_arg(t, a.first()).is_some_and(|keys| {
                    keys.split(',').enumerate().any(|(n, k)| {
                        k.trim() == "VALUE_TYPE"
                            && a.get(n + 1)
                                .is_some_and(|s| s.len() == 1 && is_str(t.get(s.start), "WORK"))
                    })
                })
            });
        if (forced || structure_work) && work_lines.insert(line) {
            errors.push(format!(
                "{file}:{line}: VALUE_TYPE \"WORK\" forced for every value: map the 1C \
                 contact-information kind to WORK/MOBILE/HOME/FAX/..."
            ));
        }

        // Callbacks named in `Новый ОписаниеОповещения("Имя", ЭтотОбъект, ...)`.
        let Some(args) = notify_description(t, i) else {
            continue;
        };
        let this = |k: usize| {
            args.get(k)
                .is_some_and(|s| s.len() == 1 && is_word(t.get(s.start), THIS_MODULE))
        };
        let mut wanted = Vec::new();
        if let (Some(cb), true) = (string_arg(t, args.first()), this(1)) {
            let shape = notification_consumer(t, i, &scope, is_component)
                .and_then(|(callee, on)| callback_params(callee, on).map(|n| (n, callee)));
            wanted.push((cb, shape));
        }
        if let (Some(cb), true) = (string_arg(t, args.get(3)), this(4)) {
            wanted.push((cb, Some((3, "the error handler"))));
        }
        for (cb, shape) in wanted {
            let Some(p) = procs
                .iter()
                .find(|p| p.name.to_lowercase() == cb.to_lowercase())
            else {
                errors.push(format!(
                    "{file}:{line}: callback {cb:?} of ОписаниеОповещения is not in this module"
                ));
                continue;
            };
            if !p.export {
                errors.push(format!(
                    "{file}:{}: callback {} must be Экспорт (ОписаниеОповещения calls it)",
                    p.line, p.name
                ));
            }
            if let Some((n, of)) = shape {
                if p.params != n {
                    errors.push(format!(
                        "{file}:{}: callback {} of {of} takes {n} parameter(s), has {}",
                        p.line, p.name, p.params
                    ));
                }
            }
        }
    }
    // A callback used by several notifications is reported once.
    let mut seen = BTreeSet::new();
    let mine = errors.split_off(before);
    errors.extend(mine.into_iter().filter(|e| seen.insert(e.clone())));
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

/// The errors of the rules beyond names and counts for one inline module.
fn rule_errors(src: &str) -> Vec<String> {
    check_source("rules.bsl", src).errors
}

#[test]
fn rule_directives_on_procedures_that_call_the_addin() {
    let with_directives = r#"
&НаКлиенте
Процедура ПриОткрытии(Отказ)
    Компонента.НачатьВызовПроверитьПодключение(Новый ОписаниеОповещения("После", ЭтотОбъект));
КонецПроцедуры

Процедура БезДирективы()
    Компонента.ПроверитьПодключение();
КонецПроцедуры

&НаКлиенте
Процедура После(Результат, Параметры, Доп) Экспорт
КонецПроцедуры
"#;
    let e = rule_errors(with_directives);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with(
            "rules.bsl:7: БезДирективы calls the add-in but has no compilation directive"
        ),
        "{e:#?}"
    );
    // A common module has no directives at all: nothing to report.
    let common = "Процедура Обмен()\n    Компонента.ПроверитьПодключение();\nКонецПроцедуры\n";
    assert!(rule_errors(common).is_empty());
}

#[test]
fn rule_attachment_inside_try_and_checked() {
    let src = r#"
Процедура Подключение()
    Если Не ПодключитьВнешнююКомпоненту("ОбщийМакет.Bitrix24", "B24", ТипВнешнейКомпоненты.Native) Тогда
        Возврат;
    КонецЕсли;
    Попытка
        ПодключитьВнешнююКомпоненту("ОбщийМакет.Bitrix24", "B24", ТипВнешнейКомпоненты.Native);
        Подключено = Вычислить("ПодключитьВнешнююКомпоненту(Макет, ""B24"", ТипВнешнейКомпоненты.Native)");
        Компонента = ОбщегоНазначения.ПодключитьКомпонентуИзМакета("Bitrix24", "ОбщийМакет.Bitrix24");
    Исключение
        Сообщить(КраткоеПредставлениеОшибки(ИнформацияОбОшибке()));
    КонецПопытки;
    Подключено = Вычислить("ПодключитьВнешнююКомпоненту(Макет, ""B24"")");
КонецПроцедуры

Процедура НаКлиенте()
    НачатьПодключениеВнешнейКомпоненты(Новый ОписаниеОповещения("После", ЭтотОбъект), "ОбщийМакет.Bitrix24", "B24");
    Оповещение = Новый ОписаниеОповещения("После", ЭтотОбъект, , "ПриОшибке", ЭтотОбъект);
    НачатьПодключениеВнешнейКомпоненты(Оповещение, "ОбщийМакет.Bitrix24", "B24");
    НачатьУстановкуВнешнейКомпоненты(Новый ОписаниеОповещения("ПослеУстановки", ЭтотОбъект, , "ПриОшибке", ЭтотОбъект), "ОбщийМакет.Bitrix24");
КонецПроцедуры

Процедура После(Подключено, Доп) Экспорт
КонецПроцедуры

Процедура ПослеУстановки(Доп) Экспорт
КонецПроцедуры

Процедура ПриОшибке(Информация, СтандартнаяОбработка, Доп) Экспорт
КонецПроцедуры
"#;
    let e = rule_errors(src);
    let all = e.join("\n");
    assert!(
        e.iter()
            .any(|e| e.starts_with("rules.bsl:3: ПодключитьВнешнююКомпоненту outside Попытка")),
        "{all}"
    );
    assert!(
        e.iter()
            .any(|e| e
                .starts_with("rules.bsl:7: the result of ПодключитьВнешнююКомпоненту is ignored")),
        "{all}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("rules.bsl:13: Вычислить outside Попытка")),
        "{all}"
    );
    assert!(
        e.iter().any(|e| e.starts_with(
            "rules.bsl:17: НачатьПодключениеВнешнейКомпоненты without an error handler"
        )),
        "{all}"
    );
    assert_eq!(e.len(), 4, "{all}");
}

#[test]
fn rule_attach_type_only_through_eval() {
    let src = r#"
Процедура Подключение()
    Попытка
        Подключено = ПодключитьВнешнююКомпоненту("ОбщийМакет.Bitrix24", "B24", ТипВнешнейКомпоненты.Native,
            ТипПодключенияВнешнейКомпоненты.НеИзолированно);
        Тип = Вычислить("ТипПодключенияВнешнейКомпоненты.НеИзолированно");
    Исключение
    КонецПопытки;
КонецПроцедуры
"#;
    let e = rule_errors(src);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with("rules.bsl:5: ТипПодключенияВнешнейКомпоненты used directly"),
        "{e:#?}"
    );
}

#[test]
fn rule_callbacks_exist_with_the_platform_shape() {
    let src = r#"
&НаКлиенте
Процедура Команда(Команда)
    Компонента.НачатьВызовПроверитьПодключение(Новый ОписаниеОповещения("ПослеПроверки", ЭтотОбъект));
    Оповещение = Новый ОписаниеОповещения("ПослеВерсии", ЭтотОбъект);
    Компонента.НачатьПолучениеВерсия(Оповещение);
    Компонента.НачатьУстановкуТаймаут(Новый ОписаниеОповещения("ПослеТаймаута", ЭтотОбъект), 30);
    Компонента.НачатьВызовПакет(Новый ОписаниеОповещения("НетТакой", ЭтотОбъект), "[]");
    Компонента.НачатьВызовПроверитьПодключение(Новый ОписаниеОповещения("НеЭкспорт", ЭтотОбъект, , "ОшибкаНеТак", ЭтотОбъект));
    ПодключитьКомпоненту(Новый ОписаниеОповещения("ЧужаяФорма", ДругаяФорма));
КонецПроцедуры

&НаКлиенте
Процедура ПослеПроверки(Результат, ПараметрыВызова) Экспорт
КонецПроцедуры

&НаКлиенте
Процедура ПослеВерсии(Версия, Доп) Экспорт
КонецПроцедуры

&НаКлиенте
Процедура ПослеТаймаута(Доп, Лишний) Экспорт
КонецПроцедуры

&НаКлиенте
Процедура НеЭкспорт(Результат, ПараметрыВызова, Доп)
КонецПроцедуры

&НаКлиенте
Процедура ОшибкаНеТак(Информация) Экспорт
КонецПроцедуры
"#;
    let e = rule_errors(src);
    let all = e.join("\n");
    for want in [
        "rules.bsl:14: callback ПослеПроверки of НачатьВызовПроверитьПодключение takes 3 parameter(s), has 2",
        "rules.bsl:22: callback ПослеТаймаута of НачатьУстановкуТаймаут takes 1 parameter(s), has 2",
        "rules.bsl:8: callback \"НетТакой\" of ОписаниеОповещения is not in this module",
        "rules.bsl:26: callback НеЭкспорт must be Экспорт",
        "rules.bsl:30: callback ОшибкаНеТак of the error handler takes 3 parameter(s), has 1",
    ] {
        assert!(e.iter().any(|e| e.starts_with(want)), "{want}\n{all}");
    }
    assert_eq!(e.len(), 5, "{all}");
}

#[test]
fn rule_session_zone_dates() {
    let src = r#"
Функция ВJSON(Значение)
    Настройки = Новый НастройкиСериализацииJSON;
    Настройки.ВариантЗаписиДаты = ВариантЗаписиДатыJSON.ЛокальнаяДатаСоСмещением;
    Сейчас = ТекущаяДата();
    Верно = МестноеВремя(УниверсальноеВремя(ТекущаяДатаСеанса()), ЧасовойПоясСеанса());
КонецФункции
"#;
    let e = rule_errors(src);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("rules.bsl:4: ЛокальнаяДатаСоСмещением takes the offset"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("rules.bsl:5: ТекущаяДата() is the computer's clock"),
        "{e:#?}"
    );
}

#[test]
fn rule_no_new_guid_in_an_update() {
    let src = r#"
Процедура ОбновитьКонтакт(Компонента, КонтактID, Ссылка)
    Поля = Новый Структура("UF_CRM_1723100443089", Строка(Новый УникальныйИдентификатор));
КонецПроцедуры

Процедура СоздатьКонтакт(Компонента)
    Поля = Новый Структура("UF_CRM_1723100443089", Строка(Новый УникальныйИдентификатор));
КонецПроцедуры
"#;
    let e = rule_errors(src);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with("rules.bsl:3: a new GUID in ОбновитьКонтакт"),
        "{e:#?}"
    );
}

#[test]
fn rule_value_type_not_forced_to_work() {
    let src = r#"
Функция Элемент(Значение, ТипЗначения = "WORK")
КонецФункции

Процедура Телефоны(Поля, Номера)
    Для Каждого Номер Из Номера Цикл
        Элемент = Новый Соответствие;
        Элемент.Вставить("VALUE_TYPE", "WORK");
        Элементы.Добавить(Новый Структура("VALUE, VALUE_TYPE", Номер, "WORK"));
        Элементы.Добавить(Элемент(Номер, "WORK"));
        Тип = "WORK";
    КонецЦикла;
    Виды = Новый Соответствие;
    Виды.Вставить("Рабочий", "WORK");
КонецПроцедуры
"#;
    let e = rule_errors(src);
    let lines: Vec<&str> = e
        .iter()
        .map(|e| e.split(": VALUE_TYPE").next().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["rules.bsl:2", "rules.bsl:8", "rules.bsl:9", "rules.bsl:10"],
        "{e:#?}"
    );
}
