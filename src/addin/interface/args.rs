//! The parameters of one call, read and checked by their method's table entry.

use super::MethodDef;
use crate::addin::value::Value;
use crate::error::Error;

/// The parameters of one call, checked against their method's count.
pub struct Args<'a> {
    def: &'a MethodDef,
    values: &'a [Value],
}

impl<'a> Args<'a> {
    /// Checks the count: at least the required parameters, at most all of them (1C always passes
    /// all; other hosts may leave trailing optional ones out).
    pub fn new(def: &'a MethodDef, values: &'a [Value]) -> Result<Self, Error> {
        if values.len() < def.required || values.len() > def.params {
            let expected = if def.required == def.params {
                format!("{}", def.params)
            } else {
                format!("{} to {}", def.required, def.params)
            };
            return Err(Error::invalid_input(
                "WRONG_PARAM_COUNT",
                format!(
                    "{} takes {expected} parameter(s), got {}",
                    def.en,
                    values.len()
                ),
            ));
        }
        Ok(Args { def, values })
    }

    fn at(&self, i: usize) -> (&Value, &'static str) {
        (
            self.values.get(i).unwrap_or(&Value::Empty),
            self.def.param_names.get(i).copied().unwrap_or("parameter"),
        )
    }

    /// Required string parameter `i`.
    pub fn string(&self, i: usize) -> Result<String, Error> {
        let (v, name) = self.at(i);
        v.required_string(name)
    }

    /// Optional string parameter `i` (`None` when absent, Empty or `""`).
    pub fn opt_string(&self, i: usize) -> Result<Option<String>, Error> {
        let (v, name) = self.at(i);
        v.optional_string(name)
    }

    /// ID parameter `i`.
    pub fn id(&self, i: usize) -> Result<i64, Error> {
        let (v, name) = self.at(i);
        v.id(name)
    }

    /// Optional count parameter `i` in `min..=max` (`min` when absent or Empty).
    pub fn opt_count(&self, i: usize, min: usize, max: usize) -> Result<usize, Error> {
        let (v, name) = self.at(i);
        if matches!(v, Value::Empty) {
            return Ok(min);
        }
        match v.id(name) {
            Ok(n) if (min as i64..=max as i64).contains(&n) => Ok(n as usize),
            _ => Err(Error::invalid_input(
                "WRONG_PARAM_TYPE",
                format!("{name} must be a whole number from {min} to {max}"),
            )),
        }
    }

    /// Required bytes parameter `i`: `ДвоичныеДанные`, or a String as UTF-8.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, Error> {
        let (v, name) = self.at(i);
        v.required_bytes(name)
    }

    /// Flag parameter `i`, `false` when absent or Empty.
    pub fn flag(&self, i: usize) -> Result<bool, Error> {
        let (v, name) = self.at(i);
        v.flag(name, false)
    }
}
