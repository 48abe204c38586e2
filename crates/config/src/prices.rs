//! The price list of `sfconn report` (docs/configuration.md, "Prices"): the config file's
//! `[prices]` table, or a separate file given to `report --prices FILE`. One `currency` (ISO 4217:
//! three upper-case letters) and, for each licence key or name, its price per seat per month (a
//! number ≥ 0 with at most four decimals). Every problem names its key.

use std::path::Path;

use figment::value::{Dict, Num, Value};

use crate::error::{ConfigError, Origin, Problem};

/// The table of the config file (and the optional table of a prices file) holding the prices.
pub const PRICES_TABLE: &str = "prices";

/// The key of the currency in the prices.
pub const CURRENCY_KEY: &str = "currency";

/// Ten-thousandths per unit: a price is kept as a whole number of them, so that the report's
/// sums are exact.
pub const PRICE_SCALE: i128 = 10_000;

/// A validated price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceList {
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// Licence key or name (as written) and its price per seat per month.
    pub entries: Vec<PriceEntry>,
}

/// One price of a [`PriceList`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    /// The licence key or name, as written (matched ignoring case).
    pub licence: String,
    /// The price per seat per month in ten-thousandths of the currency's unit
    /// (`150` is `1_500_000`).
    pub ten_thousandths: i128,
    /// The number as written, for `config check`.
    pub shown: serde_json::Value,
}

/// How a key of the prices is written: `prices.SFDC`, `prices."Salesforce Platform"`.
pub fn price_key(licence: &str) -> String {
    let bare =
        !licence.is_empty() && licence.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        format!("{PRICES_TABLE}.{licence}")
    } else {
        format!("{PRICES_TABLE}.{}", serde_json::Value::from(licence))
    }
}

/// A price as ten-thousandths, or what is wrong with it.
fn price(value: &Value) -> Result<(i128, serde_json::Value), String> {
    let Value::Num(_, number) = value else {
        let found = match value {
            Value::String(_, s) => format!("the string {s:?}"),
            Value::Dict(..) => {
                "a table; a price has no currency of its own (one currency per price list: `prices.currency`)"
                    .into()
            }
            Value::Array(..) => "a list".into(),
            Value::Bool(_, b) => format!("the boolean {b}"),
            _ => "something else".into(),
        };
        return Err(format!(
            "must be a price per seat per month (a number ≥ 0, without quotes), found {found}"
        ));
    };
    if let Some(whole) = whole(*number) {
        if whole < 0 {
            return Err(format!("must not be negative, found {whole}"));
        }
        return whole
            .checked_mul(PRICE_SCALE)
            .map(|scaled| (scaled, serde_json::Value::from(i64::try_from(whole).unwrap_or(i64::MAX))))
            .ok_or_else(|| format!("is too large, found {whole}"));
    }
    let Some(float) = number.to_f64().filter(|f| f.is_finite()) else {
        return Err("must be a finite number".into());
    };
    if float < 0.0 {
        return Err(format!("must not be negative, found {float}"));
    }
    let scaled = float * 1e4;
    if scaled > 1e30 {
        return Err(format!("is too large, found {float}"));
    }
    let rounded = scaled.round();
    // A price as written in decimal (19.99) is not exact in binary; more than four decimals is.
    if (scaled - rounded).abs() > 1e-6 * scaled.max(1.0) {
        return Err(format!("has more than four decimals, found {float}"));
    }
    #[allow(clippy::cast_possible_truncation)] // checked above: below 1e30, a whole number
    Ok((rounded as i128, serde_json::Value::from(float)))
}

fn whole(number: Num) -> Option<i128> {
    number.to_i128().or_else(|| number.to_u128().and_then(|u| i128::try_from(u).ok()))
}

/// Reads a price list out of a table; `origin` says where each value came from.
pub(crate) fn from_table(
    table: &Dict,
    mut origin: impl FnMut(&Value) -> Origin,
    problems: &mut Vec<Problem>,
) -> Option<PriceList> {
    let before = problems.len();
    let mut currency = None;
    let mut entries: Vec<PriceEntry> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in table {
        let key = price_key(name);
        let here = Some(origin(value));
        if name == CURRENCY_KEY {
            match value {
                Value::String(_, code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => {
                    currency = Some(code.clone());
                }
                Value::String(_, code) => problems.push(Problem {
                    key,
                    origin: here,
                    message: format!(
                        "must be a currency code of three upper-case letters (ISO 4217) such as \"EUR\", found {code:?}"
                    ),
                }),
                _ => problems.push(Problem {
                    key,
                    origin: here,
                    message: "must be a currency code of three upper-case letters (ISO 4217) such as \"EUR\", in quotes".into(),
                }),
            }
            continue;
        }
        if name.eq_ignore_ascii_case(CURRENCY_KEY) {
            problems.push(Problem {
                key,
                origin: here,
                message: format!(
                    "one currency per price list: it is `{PRICES_TABLE}.{CURRENCY_KEY}` (lower case); remove this one"
                ),
            });
            continue;
        }
        if name.trim().is_empty() {
            problems.push(Problem {
                key,
                origin: here,
                message: "names no licence: give a licence key or name".into(),
            });
            continue;
        }
        if let Some(first) = seen.iter().find(|seen| seen.trim().eq_ignore_ascii_case(name.trim())) {
            problems.push(Problem {
                key,
                origin: here,
                message: format!(
                    "names the same licence as `{}` (keys and names are matched ignoring case); keep one",
                    price_key(first)
                ),
            });
            continue;
        }
        seen.push(name);
        match price(value) {
            Ok((ten_thousandths, shown)) => {
                entries.push(PriceEntry { licence: name.clone(), ten_thousandths, shown });
            }
            Err(message) => problems.push(Problem { key, origin: here, message }),
        }
    }
    if currency.is_none() && !table.contains_key(CURRENCY_KEY) && !table.is_empty() {
        problems.push(Problem {
            key: format!("{PRICES_TABLE}.{CURRENCY_KEY}"),
            origin: None,
            message: "missing: the prices need their currency, e.g. currency = \"EUR\" in the [prices] table"
                .into(),
        });
    }
    if problems.len() > before {
        return None;
    }
    currency.map(|currency| PriceList { currency, entries })
}

/// `report --prices FILE`: a TOML file holding a `[prices]` table, as in the config file, or the
/// same keys at its top level. It replaces the config file's prices.
pub fn read_prices_file(path: &Path) -> Result<Option<PriceList>, ConfigError> {
    let dict = crate::sources::read_toml(path, "--prices")?;
    let prices = match (dict.len(), dict.get(PRICES_TABLE)) {
        (1, Some(Value::Dict(_, inner))) => inner.clone(),
        _ => dict,
    };
    let mut problems = Vec::new();
    let file = Origin::File { path: path.to_path_buf() };
    let list = from_table(&prices, |_| file.clone(), &mut problems);
    if problems.is_empty() { Ok(list) } else { Err(ConfigError::Invalid { problems }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml_text: &str) -> Dict {
        let table: toml::Table = toml::from_str(toml_text).unwrap();
        match Value::serialize(table).unwrap() {
            Value::Dict(_, dict) => dict,
            _ => unreachable!("a TOML table is a dict"),
        }
    }

    fn read(toml_text: &str) -> (Option<PriceList>, Vec<String>) {
        let mut problems = Vec::new();
        let list = from_table(&table(toml_text), |_| Origin::Default, &mut problems);
        (list, problems.iter().map(|p| format!("`{}`: {}", p.key, p.message)).collect())
    }

    #[test]
    fn prices_are_exact_ten_thousandths() {
        let (list, problems) = read(
            "currency = \"EUR\"\nSFDC = 150\nAUL = 25.5\n\"Salesforce Platform\" = 19.99\nInbox = 0.0001\nFree = 0\n",
        );
        assert_eq!(problems, Vec::<String>::new());
        let list = list.unwrap();
        assert_eq!(list.currency, "EUR");
        let amounts: Vec<(&str, i128)> =
            list.entries.iter().map(|e| (e.licence.as_str(), e.ten_thousandths)).collect();
        assert_eq!(
            amounts,
            [
                ("AUL", 255_000),
                ("Free", 0),
                ("Inbox", 1),
                ("SFDC", 1_500_000),
                ("Salesforce Platform", 199_900)
            ]
        );
        assert_eq!(price_key("Salesforce Platform"), "prices.\"Salesforce Platform\"");
        assert_eq!(price_key("PID_Customer_Community"), "prices.PID_Customer_Community");
    }

    #[test]
    fn every_bad_price_is_named() {
        let (list, problems) = read(
            "currency = \"eur\"\nCurrency = \"USD\"\nSFDC = -5\nAUL = \"25\"\nX = { price = 3, currency = \"USD\" }\nY = 1.23456\nsfdc = 3\n",
        );
        assert!(list.is_none());
        assert_eq!(
            problems,
            [
                "`prices.AUL`: must be a price per seat per month (a number ≥ 0, without quotes), found the string \"25\"",
                "`prices.Currency`: one currency per price list: it is `prices.currency` (lower case); remove this one",
                "`prices.SFDC`: must not be negative, found -5",
                "`prices.X`: must be a price per seat per month (a number ≥ 0, without quotes), found a table; a price has no currency of its own (one currency per price list: `prices.currency`)",
                "`prices.Y`: has more than four decimals, found 1.23456",
                "`prices.currency`: must be a currency code of three upper-case letters (ISO 4217) such as \"EUR\", found \"eur\"",
                "`prices.sfdc`: names the same licence as `prices.SFDC` (keys and names are matched ignoring case); keep one",
            ]
        );
        let (_, problems) = read("SFDC = 150\n");
        assert_eq!(
            problems,
            [
                "`prices.currency`: missing: the prices need their currency, e.g. currency = \"EUR\" in the [prices] table"
            ]
        );
        let (list, problems) = read("");
        assert!(list.is_none() && problems.is_empty(), "an empty table is no prices");
    }
}
