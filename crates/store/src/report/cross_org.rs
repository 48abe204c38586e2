//! The cross-org view's rules (`sfconn report --all-orgs`): whether an account logged in within
//! the window, which accounts of different orgs are one person, and which of a person's
//! accounts is the seat to reclaim. Pure functions, no SQL and no output; docs/report.md
//! ("Cross-org view") states the rules.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Activity, DuplicatePerson, MatchedBy, OrgAccount, OrgRef};

/// An account's activity in its snapshot, by the rule of the reclaim candidates: a last login
/// before `inactive_before` is inactive; never logged in is `never_logged_in` unless the account
/// was created at or after `inactive_before` (`new`). The date-times are the store's RFC 3339
/// UTC text, whose order is time order (the comparison the report's SQL makes).
pub(super) fn activity(
    last_login_at: Option<&str>,
    created_at: Option<&str>,
    inactive_before: &str,
) -> Activity {
    match last_login_at {
        Some(last_login) if last_login < inactive_before => Activity::Inactive,
        Some(_) => Activity::Active,
        None => match created_at {
            Some(created) if created >= inactive_before => Activity::New,
            _ => Activity::NeverLoggedIn,
        },
    }
}

fn federation_id(account: &OrgAccount) -> Option<&str> {
    account.federation_id.as_deref().map(str::trim).filter(|id| !id.is_empty())
}

fn email_key(account: &OrgAccount) -> Option<String> {
    account.email.as_deref().map(|email| email.trim().to_lowercase()).filter(|email| !email.is_empty())
}

/// The people among `accounts` (active people's accounts holding a paid licence, of every org)
/// whose accounts are in two orgs or more.
///
/// Two accounts are one person when they carry the same `federation_id`. An account without
/// one joins the person whose accounts with a federation id have its email (ignoring case),
/// when exactly one such person exists; otherwise it is matched with the other accounts without
/// a federation id by email. Accounts with different federation ids are never one person, even
/// with the same email; an account with neither is matched with nobody.
///
/// Sets each account's `matched_by` and `reclaim_candidate`: an `inactive` or
/// `never_logged_in` account of a person who is `active` in another org.
pub(super) fn duplicates(accounts: Vec<OrgAccount>) -> Vec<DuplicatePerson> {
    let mut federation_ids_by_email: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for account in &accounts {
        if let (Some(id), Some(email)) = (federation_id(account), email_key(account)) {
            federation_ids_by_email.entry(email).or_default().insert(id.to_owned());
        }
    }

    let mut people: BTreeMap<(MatchedBy, String), Vec<OrgAccount>> = BTreeMap::new();
    for mut account in accounts {
        let key = if let Some(id) = federation_id(&account).map(str::to_owned) {
            account.matched_by = MatchedBy::FederationId;
            (MatchedBy::FederationId, id)
        } else if let Some(email) = email_key(&account) {
            account.matched_by = MatchedBy::Email;
            match federation_ids_by_email.get(&email) {
                Some(ids) if ids.len() == 1 => {
                    (MatchedBy::FederationId, ids.iter().next().cloned().unwrap_or(email))
                }
                _ => (MatchedBy::Email, email),
            }
        } else {
            continue;
        };
        people.entry(key).or_default().push(account);
    }

    let mut duplicates: Vec<DuplicatePerson> = people
        .into_iter()
        .filter(|(_, accounts)| accounts.iter().map(|a| a.org_id.as_str()).collect::<BTreeSet<_>>().len() > 1)
        .map(|((matched_by, key), accounts)| person(matched_by, key, accounts))
        .collect();
    duplicates.sort_by(|a, b| (a.key.to_lowercase(), &a.key).cmp(&(b.key.to_lowercase(), &b.key)));
    duplicates
}

fn person(matched_by: MatchedBy, key: String, mut accounts: Vec<OrgAccount>) -> DuplicatePerson {
    accounts.sort_by(|a, b| {
        (&a.org_name, &a.org_id, &a.username, &a.user_id).cmp(&(
            &b.org_name,
            &b.org_id,
            &b.username,
            &b.user_id,
        ))
    });
    let active_in: BTreeSet<OrgRef> = accounts
        .iter()
        .filter(|a| a.activity == Activity::Active)
        .map(|a| OrgRef { org_id: a.org_id.clone(), org_name: a.org_name.clone() })
        .collect();
    for account in &mut accounts {
        account.reclaim_candidate = matches!(account.activity, Activity::Inactive | Activity::NeverLoggedIn)
            && active_in.iter().any(|org| org.org_id != account.org_id);
    }
    let mut active_in: Vec<OrgRef> = active_in.into_iter().collect();
    active_in.sort_by(|a, b| (&a.org_name, &a.org_id).cmp(&(&b.org_name, &b.org_id)));
    DuplicatePerson { matched_by, key, active_in, accounts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SnapshotId;

    const CUTOFF: &str = "2024-03-17T08:00:00Z";

    fn account(
        org: &str,
        user: &str,
        email: Option<&str>,
        federation_id: Option<&str>,
        activity: Activity,
    ) -> OrgAccount {
        OrgAccount {
            org_id: format!("00D{org}"),
            org_name: format!("Org {org}"),
            snapshot: SnapshotId(1),
            user_id: format!("005{user}"),
            username: format!("{user}@{org}"),
            email: email.map(str::to_owned),
            name: None,
            federation_id: federation_id.map(str::to_owned),
            matched_by: MatchedBy::Email,
            last_login_at: None,
            days_since_login: None,
            activity,
            reclaim_candidate: false,
            paid_licences: Vec::new(),
        }
    }

    /// One account as (org id, user id, matched_by, reclaim candidate).
    type AccountSummary = (String, String, &'static str, bool);

    /// Each person as (key, accounts).
    fn summary(people: &[DuplicatePerson]) -> Vec<(String, Vec<AccountSummary>)> {
        people
            .iter()
            .map(|p| {
                (
                    p.key.clone(),
                    p.accounts
                        .iter()
                        .map(|a| {
                            (a.org_id.clone(), a.user_id.clone(), a.matched_by.as_str(), a.reclaim_candidate)
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn activity_follows_the_reclaim_rule() {
        assert_eq!(activity(Some("2024-03-17T08:00:00Z"), None, CUTOFF), Activity::Active);
        assert_eq!(activity(Some("2024-03-17T07:59:59Z"), None, CUTOFF), Activity::Inactive);
        assert_eq!(activity(None, Some("2023-01-01T00:00:00Z"), CUTOFF), Activity::NeverLoggedIn);
        assert_eq!(activity(None, None, CUTOFF), Activity::NeverLoggedIn);
        assert_eq!(activity(None, Some(CUTOFF), CUTOFF), Activity::New);
    }

    #[test]
    fn accounts_match_by_federation_id_else_by_email_ignoring_case() {
        use Activity::*;
        let people = duplicates(vec![
            account("A", "1", Some("Ann@Acme.com"), None, Active),
            account("B", "1", Some("ann@acme.COM "), None, Inactive),
            account("A", "2", Some("x@a.example"), Some("F1"), Inactive),
            account("B", "2", Some("y@b.example"), Some("F1"), Active),
            // Only in one org: no duplicate, even with two accounts there.
            account("A", "3", Some("solo@acme.com"), None, Active),
            account("A", "4", Some("SOLO@acme.com"), None, Inactive),
            // Different federation ids: two people, whatever the email.
            account("A", "5", Some("shared@acme.com"), Some("F5"), Active),
            account("B", "5", Some("shared@acme.com"), Some("F6"), Active),
            // No federation id here, one person with that email has one: the same person.
            account("A", "6", Some("Mixed@acme.com"), None, NeverLoggedIn),
            account("C", "6", Some("mixed@acme.com"), Some("F7"), Active),
            // Neither: nobody to match with.
            account("A", "7", None, None, Inactive),
            account("B", "7", None, None, Active),
        ]);
        let yes = true;
        let no = false;
        assert_eq!(
            summary(&people),
            [
                (
                    "ann@acme.com".to_owned(),
                    vec![
                        ("00DA".to_owned(), "0051".to_owned(), "email", no),
                        ("00DB".to_owned(), "0051".to_owned(), "email", yes),
                    ]
                ),
                (
                    "F1".to_owned(),
                    vec![
                        ("00DA".to_owned(), "0052".to_owned(), "federation_id", yes),
                        ("00DB".to_owned(), "0052".to_owned(), "federation_id", no),
                    ]
                ),
                (
                    "F7".to_owned(),
                    vec![
                        ("00DA".to_owned(), "0056".to_owned(), "email", yes),
                        ("00DC".to_owned(), "0056".to_owned(), "federation_id", no),
                    ]
                ),
            ]
        );
        assert_eq!(people[1].matched_by, MatchedBy::FederationId);
        assert_eq!(people[1].active_in, [OrgRef { org_id: "00DB".into(), org_name: "Org B".into() }]);
    }

    #[test]
    fn an_email_shared_by_several_federation_ids_matches_only_accounts_without_one() {
        use Activity::*;
        let people = duplicates(vec![
            account("A", "1", Some("desk@acme.com"), Some("F1"), Active),
            account("B", "1", Some("desk@acme.com"), Some("F2"), Active),
            account("C", "1", Some("desk@acme.com"), None, Inactive),
            account("D", "1", Some("Desk@acme.com"), None, Inactive),
        ]);
        assert_eq!(
            summary(&people),
            [(
                "desk@acme.com".to_owned(),
                vec![
                    ("00DC".to_owned(), "0051".to_owned(), "email", false),
                    ("00DD".to_owned(), "0051".to_owned(), "email", false),
                ]
            )]
        );
    }

    #[test]
    fn the_seat_to_reclaim_is_the_unused_one_of_someone_active_in_another_org() {
        use Activity::*;
        let people = duplicates(vec![
            // Inactive in both: paid twice, but nothing says which to keep.
            account("A", "1", Some("idle@acme.com"), None, Inactive),
            account("B", "1", Some("idle@acme.com"), None, NeverLoggedIn),
            // New in one org: not a waste yet.
            account("A", "2", Some("new@acme.com"), None, Active),
            account("B", "2", Some("new@acme.com"), None, New),
            // Active only in the same org as the inactive account does not count.
            account("A", "3", Some("twice@acme.com"), None, Active),
            account("A", "4", Some("twice@acme.com"), None, Inactive),
            account("B", "3", Some("twice@acme.com"), None, Inactive),
        ]);
        let flags: Vec<(String, Vec<bool>)> = people
            .iter()
            .map(|p| (p.key.clone(), p.accounts.iter().map(|a| a.reclaim_candidate).collect()))
            .collect();
        assert_eq!(
            flags,
            [
                ("idle@acme.com".to_owned(), vec![false, false]),
                ("new@acme.com".to_owned(), vec![false, false]),
                ("twice@acme.com".to_owned(), vec![false, false, true]),
            ]
        );
    }
}
