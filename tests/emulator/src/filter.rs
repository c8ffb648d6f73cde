//! List filters with Bitrix operator prefixes (reference §6.1 list, §6.2).

use crate::php;
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    Contains,
    NotContains,
    Like,
}

/// How values of a field compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Num,
    Str,
    /// ISO date-time strings in the portal zone; compared as normalised strings.
    Date,
}

/// Split an operator prefix off a filter key: `>=ID` -> (Ge, "ID").
pub fn split_op(key: &str) -> (Op, &str) {
    const TWO: [(&str, Op); 7] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!@", Op::NotIn),
        ("=%", Op::Like),
        ("%=", Op::Like),
        ("!=", Op::Ne),
        ("!%", Op::NotContains),
    ];
    for (p, op) in TWO {
        if let Some(r) = key.strip_prefix(p) {
            return (op, r);
        }
    }
    const ONE: [(&str, Op); 6] = [
        (">", Op::Gt),
        ("<", Op::Lt),
        ("@", Op::In),
        ("%", Op::Contains),
        ("=", Op::Eq),
        ("!", Op::Ne),
    ];
    for (p, op) in ONE {
        if let Some(r) = key.strip_prefix(p) {
            return (op, r);
        }
    }
    (Op::Eq, key)
}

/// Split a CRM list filter key as `CSqlUtil::GetFilterOperation` (main/classes/general/
/// sql_util.php) does: `!` (negation), `+` (or-NULL, accepted and ignored), then one of
/// `>= > <= < @ =% %= % ? *= *% * =`. Returns (negated, operation, field); `None` for the
/// full-text and QUERY operations, which the emulator does not model.
pub fn crm_split(key: &str) -> Option<(bool, Op, &str)> {
    let (neg, k) = match key.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, key),
    };
    let k = k.strip_prefix('+').unwrap_or(k);
    const OPS: [(&str, Option<Op>); 13] = [
        (">=", Some(Op::Ge)),
        (">", Some(Op::Gt)),
        ("<=", Some(Op::Le)),
        ("<", Some(Op::Lt)),
        ("@", Some(Op::In)),
        ("=%", Some(Op::Like)),
        ("%=", Some(Op::Like)),
        ("%", Some(Op::Contains)),
        ("?", None),
        ("*=", None),
        ("*%", None),
        ("*", None),
        ("=", Some(Op::Eq)),
    ];
    for (p, op) in OPS {
        if let Some(r) = k.strip_prefix(p) {
            return op.map(|o| (neg, o, r));
        }
    }
    Some((neg, Op::Eq, k))
}

fn wanted(v: &Value) -> Vec<String> {
    match php::as_list(v) {
        Some(l) => l.into_iter().map(php::strval).collect(),
        None => vec![php::strval(v)],
    }
}

fn norm(kind: Kind, s: &str) -> String {
    match kind {
        Kind::Date => crate::time::parse_datetime(s)
            .map(crate::time::iso)
            .unwrap_or_else(|| s.to_string()),
        _ => s.to_string(),
    }
}

fn num(s: &str) -> f64 {
    s.trim().parse::<f64>().unwrap_or(0.0)
}

fn cmp(kind: Kind, a: &str, b: &str) -> Ordering {
    match kind {
        Kind::Num => num(a).partial_cmp(&num(b)).unwrap_or(Ordering::Equal),
        // MySQL's default collations compare case-insensitively.
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

/// SQL LIKE with `%` and `_`, case-insensitive.
pub fn like(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = s.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Does a field with values `vals` (empty = NULL) pass `op filter_value`?
pub fn test(op: Op, kind: Kind, vals: &[String], fv: &Value) -> bool {
    let want: Vec<String> = wanted(fv).iter().map(|w| norm(kind, w)).collect();
    let eq = || {
        if want.len() == 1 && want[0].is_empty() {
            // `FIELD => ""` selects empty/NULL values.
            return vals.iter().all(|v| v.is_empty());
        }
        vals.iter()
            .any(|v| want.iter().any(|w| cmp(kind, v, w) == Ordering::Equal))
    };
    match op {
        Op::Eq | Op::In => eq(),
        Op::Ne | Op::NotIn => !eq(),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            let Some(w) = want.first() else { return false };
            vals.iter().filter(|v| !v.is_empty()).any(|v| {
                let o = cmp(kind, v, w);
                match op {
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    Op::Lt => o == Ordering::Less,
                    _ => o != Ordering::Greater,
                }
            })
        }
        Op::Contains | Op::NotContains => {
            let hit = want.iter().any(|w| {
                w.is_empty() || {
                    let w = w.to_lowercase();
                    vals.iter().any(|v| v.to_lowercase().contains(&w))
                }
            });
            (op == Op::Contains) == hit
        }
        Op::Like => want.iter().any(|w| vals.iter().any(|v| like(w, v))),
    }
}

/// A predicate prepared once per request: a list filter is tested against every row, and an
/// `@` filter may carry many values (a bulk GUID lookup sends 50), so string equality and
/// membership use a case-folded set instead of re-reading the filter value per row.
pub struct Prepared<'a> {
    op: Op,
    kind: Kind,
    value: &'a Value,
    folded: Option<std::collections::HashSet<String>>,
    /// The same for a numeric field (`@ID`): the wanted numbers, when all of them are finite.
    numbers: Option<std::collections::HashSet<u64>>,
}

/// A number's key in [`Prepared::numbers`]: its bits, with -0 as 0 (they compare equal).
fn num_key(x: f64) -> u64 {
    if x == 0.0 {
        0.0f64.to_bits()
    } else {
        x.to_bits()
    }
}

impl<'a> Prepared<'a> {
    /// Prepares `op value` for a field of `kind`.
    pub fn new(op: Op, kind: Kind, value: &'a Value) -> Self {
        let folded = match (op, kind) {
            (Op::Eq | Op::In | Op::Ne | Op::NotIn, Kind::Str) => {
                let w = wanted(value);
                // `FIELD => ""` (select empty values) keeps the general path.
                (!(w.len() == 1 && w[0].is_empty()))
                    .then(|| w.iter().map(|x| x.to_lowercase()).collect())
            }
            _ => None,
        };
        let numbers = match (op, kind) {
            (Op::Eq | Op::In | Op::Ne | Op::NotIn, Kind::Num) => {
                let given = wanted(value);
                let w: Vec<f64> = given.iter().map(|x| num(x)).collect();
                let empty = given.len() == 1 && given[0].is_empty();
                (!empty && w.iter().all(|x| x.is_finite()))
                    .then(|| w.into_iter().map(num_key).collect())
            }
            _ => None,
        };
        Prepared {
            op,
            kind,
            value,
            folded,
            numbers,
        }
    }

    /// Does a field with values `vals` pass? Same answers as [`test`].
    pub fn test(&self, vals: &[String]) -> bool {
        match &self.folded {
            Some(set) => {
                let hit = vals.iter().any(|v| set.contains(&v.to_lowercase()));
                matches!(self.op, Op::Eq | Op::In) == hit
            }
            None => match &self.numbers {
                Some(set) => {
                    // A NaN compares equal to anything in `cmp`; kept so.
                    let hit = vals
                        .iter()
                        .map(|v| num(v))
                        .any(|x| x.is_nan() || set.contains(&num_key(x)));
                    matches!(self.op, Op::Eq | Op::In) == hit
                }
                None => test(self.op, self.kind, vals, self.value),
            },
        }
    }
}

/// Compare two rows' values for ORDER BY (NULLs first, as MySQL does ascending).
pub fn order_cmp(kind: Kind, a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp(kind, x, y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prepared_numbers_answer_as_the_general_test() {
        let rows: [&[&str]; 6] = [&["7"], &["7.0"], &["8"], &[], &["abc"], &["-0"]];
        for fv in [
            json!([7, 9]),
            json!("7"),
            json!(""),
            json!([0]),
            json!(["x"]),
        ] {
            for op in [Op::In, Op::NotIn, Op::Eq, Op::Ne] {
                let p = Prepared::new(op, Kind::Num, &fv);
                for r in rows {
                    let vals: Vec<String> = r.iter().map(|s| s.to_string()).collect();
                    assert_eq!(
                        p.test(&vals),
                        test(op, Kind::Num, &vals, &fv),
                        "{op:?} {fv} {r:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn ops() {
        assert_eq!(split_op(">=ID"), (Op::Ge, "ID"));
        assert_eq!(split_op("!@ID"), (Op::NotIn, "ID"));
        assert_eq!(split_op("NAME"), (Op::Eq, "NAME"));
        let v = vec!["10".to_string()];
        assert!(test(Op::Gt, Kind::Num, &v, &json!("9")));
        assert!(!test(Op::Gt, Kind::Str, &v, &json!("9")));
        assert!(test(Op::In, Kind::Num, &v, &json!([1, 10])));
        assert!(like("an%", "Anna"));
        assert!(!like("an_", "Anna"));
        assert!(test(Op::Eq, Kind::Str, &[], &json!("")));
    }
}
