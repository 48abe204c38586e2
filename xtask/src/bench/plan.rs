//! What a collection of a given org must cost at least: the requests it cannot avoid and the
//! longest chain of requests that must wait for one another (the latency floor). Both come from
//! the simulated org's ground truth, so they follow the data, not the tool being measured.

use std::time::Duration;

use sfconn_testkit::OrgData;

/// Records per query page (Salesforce's maximum, what sfconn asks for).
pub(crate) const PAGE_SIZE: u64 = 2000;

/// Row counts of every object a collection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Workload {
    pub users: u64,
    pub organizations: u64,
    pub user_licenses: u64,
    pub profiles: u64,
    pub permission_set_licenses: u64,
    pub package_licenses: u64,
    pub permission_set_license_assignments: u64,
    pub package_license_assignments: u64,
    /// `UserLogin` rows of frozen users (the only ones sfconn asks for).
    pub frozen_user_logins: u64,
    /// `User.UserPermissions*` checkboxes: one `SELECT COUNT()` each (their seats used).
    pub feature_licences: u64,
    /// `PermissionSet` rows with a `LicenseId` (the only ones sfconn asks for).
    pub permission_sets: u64,
    pub permission_set_group_components: u64,
    /// `PermissionSetAssignment` rows sfconn asks for: only those that can grant a permission
    /// set licence (a group, or a licensed permission set no profile owns), about 0.2 per user
    /// in the simulated org (docs/unused-assignments.md, "The queries").
    pub permission_set_assignments: u64,
}

/// Pages one query over `rows` rows takes: an empty result is still one request.
pub(crate) fn pages(rows: u64) -> u64 {
    rows.div_ceil(PAGE_SIZE).max(1)
}

impl Workload {
    pub(crate) fn of(data: &OrgData) -> Workload {
        Workload {
            users: data.user_count() as u64,
            organizations: 1,
            user_licenses: data.user_licenses.len() as u64,
            profiles: data.profiles.len() as u64,
            permission_set_licenses: data.permission_set_licenses.len() as u64,
            package_licenses: data.package_licenses.len() as u64,
            permission_set_license_assignments: data.psl_assignments().count() as u64,
            package_license_assignments: data.user_package_licenses().count() as u64,
            frozen_user_logins: data.user_logins().filter(|login| login.is_frozen).count() as u64,
            feature_licences: sfconn_testkit::FEATURE_LICENCES.len() as u64,
            permission_sets: data.permission_sets.iter().filter(|set| set.license_id.is_some()).count()
                as u64,
            permission_set_group_components: data.permission_set_group_components.len() as u64,
            permission_set_assignments: data.licence_granting_set_assignments().count() as u64,
        }
    }

    /// The org-wide sources that sfconn describes before querying them.
    fn described_sources(&self) -> [u64; 5] {
        [
            self.organizations,
            self.user_licenses,
            self.profiles,
            self.permission_set_licenses,
            self.package_licenses,
        ]
    }

    /// The org-wide lists of the unused-assignment rule, read whole before the header without
    /// a describe (docs/unused-assignments.md).
    fn header_lists(&self) -> [u64; 2] {
        [self.permission_sets, self.permission_set_group_components]
    }

    fn assignment_sources(&self) -> [u64; 4] {
        [
            self.permission_set_license_assignments,
            self.package_license_assignments,
            self.frozen_user_logins,
            self.permission_set_assignments,
        ]
    }

    /// Pages of all twelve queries.
    pub(crate) fn query_pages(&self) -> u64 {
        self.described_sources()
            .iter()
            .chain(&self.header_lists())
            .chain(&self.assignment_sources())
            .map(|rows| pages(*rows))
            .sum::<u64>()
            + pages(self.users)
    }

    /// Requests sfconn cannot do without (docs/contract.md §7, docs/api-calls.md): token, versions,
    /// limits (the budget guard), six describes (five sources and User: the field set comes
    /// from describe), every page of the twelve queries and one count per feature licence.
    pub(crate) fn sfconn_minimum_requests(&self) -> u64 {
        3 + 6 + self.query_pages() + self.feature_licences
    }

    /// Requests the peer cannot do without: the token and every page (it neither discovers
    /// the version, nor guards the budget, nor describes).
    /// The peer does not read `UserLogin` (frozen users), count feature licences, nor read
    /// the three objects of the unused-assignment rule.
    pub(crate) fn peer_minimum_requests(&self) -> u64 {
        1 + self.query_pages()
            - pages(self.frozen_user_logins)
            - pages(self.permission_set_assignments)
            - self.header_lists().iter().map(|rows| pages(*rows)).sum::<u64>()
    }

    /// Round trips before the first page of any query: token → versions → `/limits` (the
    /// budget guard must answer before any row is asked for), with each query's describe
    /// beside `/limits`.
    const BEFORE_PAGES: u64 = 3;

    /// The pages of the longest query: every page waits for the `nextRecordsUrl` of the one
    /// before, so a query's pages are a chain, and the twelve chains are independent.
    pub(crate) fn longest_query_pages(&self) -> u64 {
        self.described_sources()
            .iter()
            .chain(&self.header_lists())
            .chain(&self.assignment_sources())
            .chain(std::iter::once(&self.users))
            .map(|rows| pages(*rows))
            .max()
            .unwrap_or(1)
    }

    /// The latency floor of sfconn, in round trips: token → versions → `/limits` beside the
    /// describes, then the independent query chains side by side, the longest of which decides.
    pub(crate) fn sfconn_floor_round_trips(&self) -> u64 {
        Self::BEFORE_PAGES + self.longest_query_pages()
    }

    /// The floor as time: every request costs `latency`, every query page `server` more (the
    /// org's own time per page, `--server-ms`).
    pub(crate) fn sfconn_floor(&self, latency: Duration, server: Duration) -> Duration {
        chain_time(Self::BEFORE_PAGES, self.longest_query_pages(), latency, server)
    }

    /// The query pages on the chain of sfconn's present design (docs/benchmarks.md): every
    /// query waits for the budget guard, the assignment queries run beside the User query and
    /// are merged with it, and each query stream fetches one page ahead of its consumer. The
    /// one wait left is the snapshot header: it needs the org-wide sources, and until it is
    /// written the run holds at most [`Self::USER_PAGES_HELD`] User pages (read ahead) with
    /// the next in flight, so the one after is requested once the header is out. With one-page
    /// org-wide sources this is the floor. (The `http.concurrency` cap is not counted: the
    /// pages held are as many as the cap's rounds before the header take, see
    /// docs/benchmarks.md, fourth pass.)
    fn design_pages(&self) -> u64 {
        let described = self
            .described_sources()
            .iter()
            .chain(&self.header_lists())
            .map(|rows| pages(*rows))
            .max()
            .unwrap_or(0);
        let header_then_users = described + pages(self.users).saturating_sub(Self::USER_PAGES_HELD);
        self.longest_query_pages().max(header_then_users)
    }

    /// User pages sfconn holds while the header waits, when they come a round trip apart
    /// (`USER_PAGES_HELD_BEFORE_HEADER` in crates/collect/src/users.rs).
    const USER_PAGES_HELD: u64 = 6;

    /// The round trips of sfconn's present design ([`Workload::design_pages`]).
    pub(crate) fn sfconn_design_round_trips(&self) -> u64 {
        Self::BEFORE_PAGES + self.design_pages()
    }

    /// The design floor as time, as [`Workload::sfconn_floor`].
    pub(crate) fn sfconn_design_floor(&self, latency: Duration, server: Duration) -> Duration {
        chain_time(Self::BEFORE_PAGES, self.design_pages(), latency, server)
    }
}

/// `fixed` round trips and `pages` query pages one after the other.
fn chain_time(fixed: u64, pages: u64, latency: Duration, server: Duration) -> Duration {
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    latency * count(fixed) + (latency + server) * count(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(users: u64, psla: u64, upl: u64) -> Workload {
        Workload {
            users,
            organizations: 1,
            user_licenses: 12,
            profiles: 20,
            permission_set_licenses: 4,
            package_licenses: 4,
            permission_set_license_assignments: psla,
            package_license_assignments: upl,
            frozen_user_logins: users / 20,
            feature_licences: 4,
            permission_sets: 16,
            permission_set_group_components: 2,
            // One licence-granting assignment per user.
            permission_set_assignments: users,
        }
    }

    #[test]
    fn an_empty_query_is_one_page_and_a_full_page_does_not_spill() {
        assert_eq!(pages(0), 1);
        assert_eq!(pages(2000), 1);
        assert_eq!(pages(2001), 2);
        assert_eq!(pages(1_000_000), 500);
    }

    #[test]
    fn minimum_requests_count_every_fixed_call_and_every_page() {
        // 40 users and small joins: 3 fixed + 6 describes + 12 one-page queries + 4 feature
        // licence counts (docs/api-calls.md: 25).
        assert_eq!(workload(40, 10, 10).sfconn_minimum_requests(), 25);
        assert_eq!(workload(40, 10, 10).peer_minimum_requests(), 9);
        // 1M users, 400k and 300k assignment rows, 50k frozen, 1M permission set assignments:
        // 500 + 200 + 150 + 25 + 500 pages + 7 one-page lists.
        let big = workload(1_000_000, 400_000, 300_000);
        assert_eq!(big.query_pages(), 1382);
        assert_eq!(big.sfconn_minimum_requests(), 1395);
        assert_eq!(big.peer_minimum_requests(), 1 + 880 - 25);
        // Two permission set assignments per user: that stream is the longest chain.
        let two = Workload { permission_set_assignments: 2_000_000, ..big };
        assert_eq!(two.sfconn_minimum_requests(), 1895);
        assert_eq!(two.sfconn_floor_round_trips(), 3 + 1000);
        assert_eq!(two.sfconn_design_round_trips(), 3 + 1000);
    }

    #[test]
    fn the_floor_is_the_longest_independent_chain() {
        // Small org: token, versions, limits beside the describes, then one page.
        assert_eq!(workload(40, 10, 10).sfconn_floor_round_trips(), 4);
        // Users dominate: 500 pages.
        assert_eq!(workload(1_000_000, 400_000, 300_000).sfconn_floor_round_trips(), 3 + 500);
        // An assignment object larger than the users dominates on its own.
        assert_eq!(workload(2_000, 10_000, 0).sfconn_floor_round_trips(), 3 + 5);
    }

    #[test]
    fn the_floor_in_time_adds_the_server_time_of_every_page_on_the_chain() {
        let ms = Duration::from_millis;
        let big = workload(100_000, 10, 10);
        assert_eq!(big.sfconn_floor(ms(50), Duration::ZERO), ms(50 * 53));
        assert_eq!(big.sfconn_floor(ms(50), ms(200)), ms(50 * 3 + 250 * 50));
        assert_eq!(big.sfconn_design_floor(ms(50), ms(200)), big.sfconn_floor(ms(50), ms(200)));
    }

    #[test]
    fn the_present_design_reaches_the_floor_unless_the_header_waits_longer() {
        // One-page org-wide sources: the header is written while User page 2 is on its way.
        assert_eq!(workload(1_000_000, 400_000, 300_000).sfconn_design_round_trips(), 3 + 500);
        assert_eq!(workload(40, 10, 10).sfconn_design_round_trips(), 4);
        // Assignments larger than the users are their own chain, as in the floor.
        assert_eq!(workload(2_000, 10_000, 0).sfconn_design_round_trips(), 3 + 5);
        // A profile list of 9 pages holds the header back: User pages 8.. wait for it.
        let mut many_profiles = workload(100_000, 10, 10);
        many_profiles.profiles = 17_000;
        assert_eq!(many_profiles.sfconn_floor_round_trips(), 3 + 50);
        assert_eq!(many_profiles.sfconn_design_round_trips(), 3 + 9 + 44);
        // Of 6 pages, the six User pages held cover it: no wait.
        many_profiles.profiles = 11_000;
        assert_eq!(many_profiles.sfconn_design_round_trips(), 3 + 50);
    }
}
