//! The money view and the paid-licence rules of issue 19 against a hand-written snapshot with
//! known answers (`fixtures/acme-money-2024-06-20.json`, described in `fixtures/README.md`):
//! exact amounts per subscription and in total, the Salesforce Integration licence's included
//! seats by edition, the settings' paid/free keys, and each format with and without prices.

use crate::common;

use common::*;
use sfconn_store::{Money, PaidRules, Prices, Report, ReportOptions, Store, SubscriptionUse};

pub const MONEY: &str = include_str!("../fixtures/acme-money-2024-06-20.json");

fn eur(units: i128, hundredths: i128) -> Money {
    Money::from_ten_thousandths(units * 10_000 + hundredths * 100)
}

/// The prices of docs/report.md's worked example: by key, by name and by label.
pub fn prices() -> Prices {
    Prices::new(
        "EUR",
        [
            ("SFDC".to_owned(), eur(150, 0)),
            ("Sales Cloud Einstein".to_owned(), eur(50, 0)),
            ("sbqq".to_owned(), eur(12, 35)),
            ("CLOUD_INTEGRATION_USER".to_owned(), eur(10, 0)),
        ],
    )
}

fn priced(rules: PaidRules, prices: Prices) -> ReportOptions {
    ReportOptions { paid: rules, prices: Some(prices), ..ReportOptions::default() }
}

fn report_with(store: &Store, options: &ReportOptions) -> Report {
    store.report(&snapshot(store, 1), options).unwrap()
}

/// name, reclaimable, price, bought per month, reclaimable per month, per year.
type Row<'a> = (&'a str, i64, Option<String>, Option<String>, Option<String>, Option<String>);

fn rows(report: &Report) -> Vec<Row<'_>> {
    let text = |m: Option<Money>| m.map(|m| m.to_string());
    report
        .subscriptions
        .iter()
        .map(|s: &SubscriptionUse| {
            (
                s.label.as_deref().unwrap_or(&s.name),
                s.reclaimable,
                text(s.price_per_seat),
                text(s.bought_monthly),
                text(s.reclaimable_monthly),
                text(s.reclaimable_yearly),
            )
        })
        .collect()
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn the_money_of_each_subscription_and_the_total_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), MONEY);
    let report = report_with(&store, &priced(PaidRules::default(), prices()));
    assert_eq!(
        rows(&report),
        [
            // 4 candidates (ann, cat, eve, fay) hold Salesforce.
            ("Salesforce", 4, some("150.00"), some("1500.00"), some("600.00"), some("7200.00")),
            ("Chatter Free", 0, None, None, None, None),
            ("Guest User License", 0, None, None, None, None),
            // ben and dan hold it, 6 used of which 5 included: only 1 seat is waste; 8 bought,
            // 3 paid for.
            ("Salesforce Integration", 1, some("10.00"), some("30.00"), some("10.00"), some("120.00")),
            ("Sales Cloud Einstein", 2, some("50.00"), some("250.00"), some("100.00"), some("1200.00")),
            ("SBQQ", 2, some("12.35"), some("61.75"), some("24.70"), some("296.40")),
        ]
    );
    let integration = &report.subscriptions[3];
    assert_eq!((integration.included_seats, integration.used, integration.paid), (Some(5), Some(6), true));
    let money = &report.money;
    assert_eq!(money.currency.as_deref(), Some("EUR"));
    assert_eq!((money.reclaimable_seats, money.unpriced_reclaimable_seats), (9, 0));
    assert_eq!(money.reclaimable_monthly, Some(eur(734, 70)));
    assert_eq!(money.reclaimable_yearly, Some(eur(8816, 40)));
    assert_eq!(money.bought_monthly, Some(eur(1841, 75)));
    assert_eq!(
        money.headline(),
        "About 735 EUR/month reclaimable (about 8,816 EUR/year): 9 paid seats held by reclaim candidates"
    );
    // The candidates are those of the seats view: the allocation changes seats, not people.
    let users: Vec<&str> =
        report.reclaim_candidates.iter().map(|c| c.username.split('@').next().unwrap()).collect();
    assert_eq!(users, ["ann", "ben", "cat", "dan", "eve", "fay"]);
}

#[test]
fn developer_edition_includes_one_integration_seat_and_an_unknown_edition_five() {
    let dir = tempfile::tempdir().unwrap();
    let developer = MONEY.replace("\"Enterprise Edition\"", "\"Developer Edition\"");
    let store = store_of(dir.path(), &developer);
    let report = report_with(&store, &priced(PaidRules::default(), prices()));
    let integration = &report.subscriptions[3];
    // 6 used, 1 included: both candidates' seats are waste; 7 of 8 bought are paid for.
    assert_eq!(integration.included_seats, Some(1));
    assert_eq!(integration.reclaimable, 2);
    assert_eq!(integration.bought_monthly, Some(eur(70, 0)));
    assert_eq!(report.money.reclaimable_monthly, Some(eur(744, 70)));
    assert_eq!(report.money.bought_monthly, Some(eur(1881, 75)));

    let dir = tempfile::tempdir().unwrap();
    let unknown = MONEY.replace("\"edition\": \"Enterprise Edition\"", "\"edition\": null");
    let store = store_of(dir.path(), &unknown);
    let report = report_with(&store, &priced(PaidRules::default(), prices()));
    assert_eq!(report.subscriptions[3].included_seats, Some(5));
    assert_eq!(report.money.reclaimable_monthly, Some(eur(734, 70)));
}

#[test]
fn the_settings_keys_change_what_is_paid_and_so_the_candidates_and_the_money() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), MONEY);
    let rules = PaidRules::new(["csn_user".to_owned()], ["CLOUD_INTEGRATION_USER".to_owned()]);
    let mut list: Vec<(String, Money)> = prices().entries().to_vec();
    list.push(("Chatter Free".to_owned(), eur(5, 0)));
    let report = report_with(&store, &priced(rules, Prices::new("EUR", list)));
    let users: Vec<&str> =
        report.reclaim_candidates.iter().map(|c| c.username.split('@').next().unwrap()).collect();
    // ben and dan hold only the Integration licence, free now; ivy (1 login) holds Chatter
    // Free, paid now.
    assert_eq!(users, ["ann", "cat", "eve", "fay", "ivy"]);
    let by_name = |name: &str| report.subscriptions.iter().find(|s| s.name == name).unwrap();
    assert!(!by_name("Salesforce Integration").paid);
    assert_eq!(by_name("Salesforce Integration").reclaimable, 0);
    assert!(by_name("Chatter Free").paid);
    assert_eq!(by_name("Chatter Free").reclaimable_monthly, Some(eur(5, 0)));
    // 600 + 100 + 24.70 + 5.
    assert_eq!(report.money.reclaimable_monthly, Some(eur(729, 70)));
    assert_eq!(report.money.reclaimable_seats, 9);
}

#[test]
fn without_prices_the_report_is_in_seats_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), MONEY);
    let report = report_with(&store, &ReportOptions::default());
    assert_eq!(report.money.currency, None);
    assert_eq!(report.money.reclaimable_seats, 9);
    assert_eq!(report.money.reclaimable_monthly, None);
    assert!(report.subscriptions.iter().all(|s| s.price_per_seat.is_none() && s.bought_monthly.is_none()));
    assert!(report.money.headline().contains("[prices] table in the config file, or report --prices FILE"));
    // Seats left unpriced are said so, and not counted in the amounts.
    let only_sfdc = Prices::new("EUR", [("SFDC".to_owned(), eur(150, 0))]);
    let report = report_with(&store, &priced(PaidRules::default(), only_sfdc));
    assert_eq!((report.money.reclaimable_seats, report.money.unpriced_reclaimable_seats), (9, 5));
    assert_eq!(report.money.reclaimable_monthly, Some(eur(600, 0)));
    assert!(report.money.headline().ends_with(", 5 of them without a price"), "{}", report.money.headline());
}

#[test]
fn every_format_carries_the_money() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), MONEY);
    let report = report_with(&store, &priced(PaidRules::default(), prices()));
    let (table, json, csv) = rendered(&report);
    insta::assert_snapshot!("money_table", table);
    insta::assert_snapshot!("money_json", json);
    insta::assert_snapshot!("money_csv", csv);
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Amounts are text in JSON, exact.
    assert_eq!(document["money"]["reclaimable_monthly"], "734.70");

    insta::assert_snapshot!("money_html_section", html_section(&store, &report, "money"));
}

#[test]
fn all_orgs_sums_the_money_in_one_currency() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_weeks(dir.path());
    for doc in [
        include_str!("../fixtures/acme-eu-2024-06-14.json"),
        include_str!("../fixtures/acme-apac-2024-06-13.json"),
        MONEY,
    ] {
        store.insert_snapshot_json(doc.as_bytes()).unwrap();
    }
    let view = store.cross_org_report(&priced(PaidRules::default(), prices())).unwrap();
    let per_org: Vec<(&str, Option<String>)> = view
        .orgs
        .iter()
        .map(|org| (org.snapshot.org_name.as_str(), org.money.reclaimable_monthly.map(|m| m.to_string())))
        .collect();
    // APAC: 2 Salesforce + 1 SBQQ; Acme Corp: 2 Salesforce (its Integration licence is within
    // the 5 included); EU: nothing to reclaim; Acme Money as above.
    assert_eq!(
        per_org,
        [
            ("Acme APAC", some("312.35")),
            ("Acme Corp", some("300.00")),
            ("Acme EU", some("0.00")),
            ("Acme Money", some("734.70")),
        ]
    );
    assert_eq!(view.money.currency.as_deref(), Some("EUR"));
    assert_eq!(view.money.reclaimable_monthly, Some(eur(1347, 5)));
    assert_eq!(view.money.reclaimable_yearly, Some(eur(16164, 60)));
    let table = text(|o| view.write_table(o).unwrap());
    assert!(
        table.contains("All orgs together. About 1,347 EUR/month reclaimable (about 16,165 EUR/year)"),
        "{table}"
    );
}
