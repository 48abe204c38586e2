//! Money for the report's money view (docs/report.md, "Money"): exact amounts and the price list.
//!
//! An amount is a whole number of ten-thousandths of the currency's unit (four decimals, more
//! than any price list needs), so sums and products are exact integer arithmetic: no `f64` is
//! added up. It is written with all the decimals it has, at least two (`150.00`, `12.3456`); only
//! the report's headline ("about N EUR/month") rounds, to whole units, half up.

use serde::{Serialize, Serializer};

/// Ten-thousandths per unit of the currency.
pub const MONEY_SCALE: i128 = 10_000;

/// An exact amount of money, in ten-thousandths of the currency's unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(i128);

impl Money {
    pub const ZERO: Money = Money(0);

    /// An amount given in ten-thousandths of the unit (`1_500_000` is `150.00`).
    pub const fn from_ten_thousandths(amount: i128) -> Money {
        Money(amount)
    }

    pub const fn ten_thousandths(self) -> i128 {
        self.0
    }

    /// This price times a number of seats.
    #[must_use]
    pub fn times(self, seats: i64) -> Money {
        Money(self.0.saturating_mul(i128::from(seats)))
    }

    #[must_use]
    pub fn plus(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    /// Whole units, rounded half away from zero (the headline's "about").
    pub fn rounded_units(self) -> i128 {
        let half = MONEY_SCALE / 2;
        if self.0 >= 0 { (self.0 + half) / MONEY_SCALE } else { (self.0 - half) / MONEY_SCALE }
    }

    /// [`Money::rounded_units`] with a comma between thousands: `14,808`.
    pub fn rounded_grouped(self) -> String {
        let units = self.rounded_units();
        let digits = units.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if units < 0 { format!("-{grouped}") } else { grouped }
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let scale = MONEY_SCALE.unsigned_abs();
        let fraction = format!("{:04}", magnitude % scale);
        let fraction = fraction.trim_end_matches('0');
        write!(f, "{sign}{}.{fraction:0<2}", magnitude / scale)
    }
}

/// As text (`"150.00"`), so that no JSON reader turns it into a float.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Prices per seat per month in one currency: the `[prices]` table of the settings, or the file
/// of `report --prices FILE`. An entry names a licence by key or by name (or label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prices {
    currency: String,
    entries: Vec<(String, Money)>,
}

impl Prices {
    /// The price list: `currency` (ISO 4217, checked by the settings) and each entry's licence
    /// key or name with its price per seat per month.
    pub fn new(currency: impl Into<String>, entries: impl IntoIterator<Item = (String, Money)>) -> Prices {
        Prices {
            currency: currency.into(),
            entries: entries.into_iter().map(|(name, price)| (name.trim().to_owned(), price)).collect(),
        }
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn entries(&self) -> &[(String, Money)] {
        &self.entries
    }

    fn find(&self, text: Option<&str>) -> Option<Money> {
        let text = text.map(str::trim).filter(|t| !t.is_empty())?;
        self.entries.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)).map(|(_, price)| *price)
    }

    /// The price of a subscription: the entry named by its key, else by its name, else by its
    /// label (each ignoring case).
    pub fn price_of(&self, key: Option<&str>, name: &str, label: Option<&str>) -> Option<Money> {
        self.find(key).or_else(|| self.find(Some(name))).or_else(|| self.find(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: i128) -> Money {
        Money::from_ten_thousandths(amount)
    }

    #[test]
    fn amounts_are_written_exactly_with_at_least_two_decimals() {
        assert_eq!(money(1_500_000).to_string(), "150.00");
        assert_eq!(money(123_456).to_string(), "12.3456");
        assert_eq!(money(123_450).to_string(), "12.345");
        assert_eq!(money(5).to_string(), "0.0005");
        assert_eq!(money(0).to_string(), "0.00");
        assert_eq!(money(-2_500).to_string(), "-0.25");
        assert_eq!(serde_json::to_string(&money(199_900)).unwrap(), "\"19.99\"");
    }

    #[test]
    fn sums_and_products_are_exact() {
        // 0.1 + 0.2 in f64 is 0.30000000000000004; here it is 0.30.
        assert_eq!(money(1_000).plus(money(2_000)).to_string(), "0.30");
        assert_eq!(money(199_900).times(12).to_string(), "239.88");
        assert_eq!(money(199_900).times(0), Money::ZERO);
    }

    #[test]
    fn the_headline_rounds_half_up_to_whole_units() {
        assert_eq!(money(12_345_000).rounded_units(), 1_235);
        assert_eq!(money(12_344_999).rounded_units(), 1_234);
        assert_eq!(money(-5_000).rounded_units(), -1);
        assert_eq!(money(148_080_000).rounded_grouped(), "14,808");
        assert_eq!(money(1_234_567_890_000).rounded_grouped(), "123,456,789");
        assert_eq!(money(9_990_000).rounded_grouped(), "999");
    }

    #[test]
    fn prices_match_the_key_then_the_name_then_the_label() {
        let prices = Prices::new(
            "EUR",
            [
                ("Salesforce".to_owned(), money(1_500_000)),
                ("aul".to_owned(), money(250_000)),
                ("Salesforce Platform".to_owned(), money(1)),
                (" Inbox label ".to_owned(), money(30_000)),
            ],
        );
        assert_eq!(prices.currency(), "EUR");
        assert_eq!(prices.price_of(Some("AUL"), "Salesforce Platform", None), Some(money(250_000)));
        assert_eq!(prices.price_of(Some("SFDC"), "SALESFORCE", None), Some(money(1_500_000)));
        assert_eq!(prices.price_of(None, "InboxPsl", Some("inbox LABEL")), Some(money(30_000)));
        assert_eq!(prices.price_of(Some("X"), "Y", Some("Z")), None);
    }
}
