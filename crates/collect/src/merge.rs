//! The merge join of users with their licence assignments.
//!
//! The assignments are joined by a merge, not a hash join, so that memory never grows with
//! them: `PermissionSetLicenseAssign` (`ORDER BY AssigneeId, Id`) and `UserPackageLicense`
//! (`ORDER BY UserId, Id`) are read at the same time as the User query (`ORDER BY Id`), and
//! each user, in ascending id, takes the rows with its id while rows of users not fetched
//! (left out by the pushed-down email filter) are skipped ([`AssignmentMerge`]).
//!
//! **The merge assumes that Salesforce sorts these ids in byte order** ([`compare_ids`]), and
//! the run checks it with that same comparator on every row ([`IdOrder`]: user ids strictly
//! ascending, assignment user ids never descending), as each page arrives (`crate::arrival`)
//! and again here; a disagreement stops the run with exit 65 naming the object and the two
//! ids ([`OutOfOrder`], `CollectError::OutOfOrder`) instead of dropping assignments.
//!
//! The first page of each assignment query is read before the snapshot header is written
//! ([`AssignmentSource::open`]), so an unreadable object is a `source_skipped` warning before
//! any user is written; a later page that fails stops the run. When the licence object itself
//! was skipped, its assignments are still read (the same requests, the same order checks) but
//! not attached ([`Attach`]): a user's licence ids always point at subscriptions in the
//! snapshot. After the last user the streams are read to their end ([`Assignments::drain`]).
//!
//! Frozen users come the same way: `UserLogin WHERE IsFrozen = true` (`ORDER BY UserId, Id`) is
//! a third stream, and a user with a row is frozen ([`Assignments::frozen`]); and so do the
//! permission sets and groups each user holds: `PermissionSetAssignment` (`ORDER BY
//! AssigneeId, Id`) is a fourth, for the unused-assignment rule (`crate::unused`).

use std::cmp::Ordering;
use std::collections::VecDeque;

use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use sfconn_api::{ApiClient, ApiError, Page};

use crate::arrival;
use crate::budget::GuardGate;
use crate::error::CollectError;
use crate::progress::{Progress, SourceStatus};
use crate::snapshot::Warning;
use crate::sources::{Optional, PageStream};

/// `PermissionSetLicenseAssign` sorted by user for the merge join; `Id` last makes the order
/// total, which the `INVALID_QUERY_LOCATOR` restart needs (it re-runs the query and checks the
/// `Id` of the last row already read).
pub const PERMISSION_SET_LICENSE_ASSIGN_SOQL: &str =
    "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign ORDER BY AssigneeId, Id";
/// `UserPackageLicense` sorted by user for the merge join, `Id` last for the same reason as in
/// [`PERMISSION_SET_LICENSE_ASSIGN_SOQL`].
pub const USER_PACKAGE_LICENSE_SOQL: &str =
    "SELECT Id, UserId, PackageLicenseId FROM UserPackageLicense ORDER BY UserId, Id";

/// `PermissionSetAssignment` sorted by user for the merge join (`Id` last, as in
/// [`PERMISSION_SET_LICENSE_ASSIGN_SOQL`]): the permission sets and groups each user holds, for
/// the unused-assignment rule (`crate::unused`). Only the rows that can grant a permission set
/// licence are transferred: a permission set group, or a permission set with a `LicenseId`
/// that a profile does not own. The profile's own permission set (one row per user, and the
/// most common row) is looked up by the user's profile instead
/// ([`crate::unused::PERMISSION_SET_SOQL`] reads its `ProfileId`), and the permission sets
/// without a licence (most custom ones) grant none.
pub const PERMISSION_SET_ASSIGNMENT_SOQL: &str = "SELECT Id, AssigneeId, PermissionSetId, PermissionSetGroupId FROM \
     PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false AND \
     (PermissionSet.LicenseId != null OR PermissionSetGroupId != null) ORDER BY AssigneeId, Id";

/// The frozen users' `UserLogin` rows (one per user), sorted by user for the merge join: a
/// user with a row is frozen. Only frozen rows are transferred: an org has one `UserLogin`
/// per user, and few are frozen.
pub const FROZEN_USER_LOGIN_SOQL: &str =
    "SELECT Id, UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId, Id";

/// Compares two Salesforce ids (or user ids of assignment rows) byte by byte. The one
/// comparator of the merge join: the order guards ([`IdOrder`]) and the merge
/// ([`AssignmentMerge::take`]) both use it, so a stream the merge would mis-join is a stream the
/// guard refuses. Salesforce ids are ASCII (`0-9A-Za-z`), and `ORDER BY Id` sorts them in this
/// order (see the module documentation).
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

/// A stream that came back in an order the merge join cannot use: Salesforce sorted it
/// differently from [`compare_ids`]. The run stops rather than write users with assignments
/// silently missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Salesforce returned {object} rows out of the order sfconn asked for (ORDER BY {field}): `{next}` came \
     after `{previous}`. sfconn joins licence assignments to users by merging streams sorted by id and stops \
     rather than risk dropping assignments; nothing was written. Please report this, with the two ids, as \
     an sfconn bug"
)]
pub struct OutOfOrder {
    /// The queried object (`User`, `PermissionSetLicenseAssign`, `UserPackageLicense`).
    pub object: &'static str,
    /// The field the stream is sorted by.
    pub field: &'static str,
    /// The value before.
    pub previous: String,
    /// The value after it that sorts lower (or, for unique ids, equal).
    pub next: String,
}

/// Checks that a stream's sort key never goes down ([`compare_ids`]); with `unique`, that it
/// always goes up.
#[derive(Debug, Clone)]
pub struct IdOrder {
    object: &'static str,
    field: &'static str,
    unique: bool,
    last: Option<String>,
}

impl IdOrder {
    /// A guard for `object` sorted by `field`.
    pub fn new(object: &'static str, field: &'static str, unique: bool) -> Self {
        Self { object, field, unique, last: None }
    }

    /// Accepts the next key of the stream, or says why it is out of order.
    pub fn check(&mut self, next: &str) -> Result<(), OutOfOrder> {
        if let Some(previous) = &self.last {
            let order = compare_ids(previous, next);
            if order == Ordering::Greater || (self.unique && order == Ordering::Equal) {
                return Err(OutOfOrder {
                    object: self.object,
                    field: self.field,
                    previous: previous.clone(),
                    next: next.to_owned(),
                });
            }
            if order == Ordering::Equal {
                return Ok(());
            }
        }
        // Reuses the buffer: this runs once per user and per assignment row.
        match &mut self.last {
            Some(last) => next.clone_into(last),
            None => self.last = Some(next.to_owned()),
        }
        Ok(())
    }
}

/// What [`AssignmentMerge::take`] needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Every assignment of the user has been taken.
    Done,
    /// The buffered rows end at or before the user: push the stream's next page (or end it).
    NeedPage,
}

/// One side of the merge join of users with their licence assignments
/// (`PermissionSetLicenseAssign` by `AssigneeId`, `UserPackageLicense` by `UserId`), read
/// sorted by user: the users, in ascending id, take their rows as the pages arrive. Rows of
/// users that were not fetched (filtered out by the pushed-down email filter) are skipped.
/// Memory: the rows of about one page, whatever the org's size.
#[derive(Debug)]
pub struct AssignmentMerge {
    order: IdOrder,
    /// `(user id, licence id)` rows pushed and not yet passed.
    rows: VecDeque<(String, String)>,
    ended: bool,
}

impl AssignmentMerge {
    /// A merge over `object`, whose rows are sorted by `user_field`.
    pub fn new(object: &'static str, user_field: &'static str) -> Self {
        Self { order: IdOrder::new(object, user_field, false), rows: VecDeque::new(), ended: false }
    }

    /// Adds the stream's next page of `(user id, licence id)` rows, checking that the user ids
    /// never go down.
    pub fn push_page(&mut self, rows: impl IntoIterator<Item = (String, String)>) -> Result<(), OutOfOrder> {
        for (user, license) in rows {
            self.order.check(&user)?;
            self.rows.push_back((user, license));
        }
        Ok(())
    }

    /// The stream has no more pages.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether the stream has no more pages.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Drops the buffered rows (after the last user: nobody will take them).
    pub fn discard(&mut self) {
        self.rows.clear();
    }

    /// Moves the licence ids of `user_id` into `ids`, skipping rows of lower user ids. Users
    /// must come in ascending order (the run checks that with [`IdOrder`]); when the buffered
    /// rows may not hold all of the user's, the ones found so far are in `ids` and the answer
    /// is [`Merge::NeedPage`]: push a page, or end, and call again with the same `ids`.
    pub fn take(&mut self, user_id: &str, ids: &mut Vec<String>) -> Merge {
        while let Some((user, _)) = self.rows.front() {
            match compare_ids(user, user_id) {
                Ordering::Less => {
                    self.rows.pop_front();
                }
                Ordering::Equal => {
                    if let Some((_, license)) = self.rows.pop_front()
                        && !license.is_empty()
                    {
                        ids.push(license);
                    }
                }
                Ordering::Greater => return Merge::Done,
            }
        }
        if self.ended { Merge::Done } else { Merge::NeedPage }
    }
}

/// One assignment object, read as a stream sorted by user and merged with the users.
pub(crate) struct AssignmentSource {
    object: &'static str,
    pages: PageStream<(String, String)>,
    /// The first page, read while the org-wide sources were, until the merge starts.
    first: FirstPage,
    merge: AssignmentMerge,
    read: u64,
}

/// The first page of an assignment query, read ahead before the merge starts.
enum FirstPage {
    /// The page, or `None` when the query ended without one.
    Held(Option<Page<(String, String)>>),
    /// Already given to the merge.
    Taken,
}

/// Whether the licence ids of an assignment source go into the snapshot: only when its
/// licence object was read too, so that every id points at a subscription in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attach {
    /// The licence object was read: users get their licence ids.
    Ids,
    /// The licence object was skipped: the rows are read and checked, but users get none.
    Nothing,
}

/// One assignment object as the merge reads it.
pub(crate) enum Assignments {
    /// Read alongside the users.
    Merging { source: AssignmentSource, attach: Attach },
    /// The object could not be read (its `source_skipped` warning is in the snapshot): users
    /// get no licence ids from it.
    Skipped,
}

impl AssignmentSource {
    /// Starts the query once the budget guard let the run go (`gate`) and takes its first
    /// page, so that an unreadable object is known (`source_skipped`) before any user is
    /// written.
    pub(crate) async fn open<T>(
        client: &ApiClient,
        gate: &GuardGate,
        object: &'static str,
        user_field: &'static str,
        soql: &str,
        pair: fn(T) -> (String, String),
    ) -> Result<AssignmentSource, ApiError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        gate.open().await?;
        let mut pages: PageStream<(String, String)> = Box::pin(
            client
                .query_pages_checked::<T>(soql.to_owned(), arrival::assignments(object, user_field))
                .map_ok(move |page| Page {
                    total_size: page.total_size,
                    records: page.records.into_iter().map(pair).collect(),
                }),
        );
        let first = pages.try_next().await?;
        Ok(AssignmentSource {
            object,
            pages,
            first: FirstPage::Held(first),
            merge: AssignmentMerge::new(object, user_field),
            read: 0,
        })
    }

    /// Feeds the stream's next page (or its end) to the merge.
    fn accept(
        &mut self,
        page: Option<Page<(String, String)>>,
        progress: &dyn Progress,
    ) -> Result<(), OutOfOrder> {
        match page {
            Some(page) => {
                self.read += page.records.len() as u64;
                self.merge.push_page(page.records)?;
                progress.advanced(self.object, self.read, page.total_size);
            }
            None => {
                self.merge.end();
                progress.finished(self.object, SourceStatus::Read { records: self.read });
            }
        }
        Ok(())
    }
}

impl Assignments {
    /// Ready for the merge: a source that was read takes its first page (order-checked); a
    /// skipped one adds its `source_skipped` warning.
    pub(crate) fn start(
        source: Optional<AssignmentSource>,
        attach: Attach,
        warnings: &mut Vec<Warning>,
        progress: &dyn Progress,
    ) -> Result<Assignments, OutOfOrder> {
        let Some(mut source) = source.read(warnings) else {
            return Ok(Assignments::Skipped);
        };
        if let FirstPage::Held(first) = std::mem::replace(&mut source.first, FirstPage::Taken) {
            source.accept(first, progress)?;
        }
        Ok(Assignments::Merging { source, attach })
    }

    /// The licence ids of `user_id` (none when the source or its licence object was skipped),
    /// reading further pages as the merge needs them.
    pub(crate) async fn licences_of(
        &mut self,
        user_id: &str,
        progress: &dyn Progress,
    ) -> Result<Vec<String>, CollectError> {
        let Assignments::Merging { source, attach } = self else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        while source.merge.take(user_id, &mut ids) == Merge::NeedPage {
            let page = source.pages.try_next().await?;
            source.accept(page, progress)?;
        }
        if *attach == Attach::Nothing {
            ids.clear();
        }
        Ok(ids)
    }

    /// For `UserLogin` (frozen rows only): whether `user_id` is frozen, `None` when the source
    /// was skipped.
    pub(crate) async fn frozen(
        &mut self,
        user_id: &str,
        progress: &dyn Progress,
    ) -> Result<Option<bool>, CollectError> {
        if matches!(self, Assignments::Skipped) {
            return Ok(None);
        }
        Ok(Some(!self.licences_of(user_id, progress).await?.is_empty()))
    }

    /// Reads the source to its end after the last user, discarding its rows: every page is
    /// order-checked, progress is complete and the requests are those of a full read.
    pub(crate) async fn drain(&mut self, progress: &dyn Progress) -> Result<(), CollectError> {
        let Assignments::Merging { source, .. } = self else {
            return Ok(());
        };
        source.merge.discard();
        while !source.merge.is_ended() {
            let page = source.pages.try_next().await?;
            source.accept(page, progress)?;
            source.merge.discard();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(user, license)| ((*user).to_owned(), (*license).to_owned())).collect()
    }

    /// Takes the licences of `user`, pushing pages from `pages` as the merge asks for them.
    fn take_all(
        merge: &mut AssignmentMerge,
        pages: &mut Vec<Vec<(String, String)>>,
        user: &str,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        while merge.take(user, &mut ids) == Merge::NeedPage {
            if pages.is_empty() {
                merge.end();
            } else {
                merge.push_page(pages.remove(0)).unwrap();
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    #[test]
    fn the_merge_gives_each_user_exactly_its_rows_across_pages() {
        let mut merge = AssignmentMerge::new("PermissionSetLicenseAssign", "AssigneeId");
        // Sorted by user; user 2 was filtered out of the User query, user 3 holds three
        // licences (one twice) split over a page boundary, user 4 holds none, rows past the
        // last user are never needed.
        let mut pages = vec![
            rows(&[("", "0PL0X0000000009AAA"), ("0050X0000000001AAA", "0PL0X0000000002AAA")]),
            rows(&[
                ("0050X0000000001AAA", "0PL0X0000000001AAA"),
                ("0050X0000000002AAA", "0PL0X0000000001AAA"),
            ]),
            rows(&[
                ("0050X0000000003AAA", "0PL0X0000000003AAA"),
                ("0050X0000000003AAA", "0PL0X0000000001AAA"),
            ]),
            rows(&[
                ("0050X0000000003AAA", "0PL0X0000000003AAA"),
                ("0050X0000000005AAA", "0PL0X0000000002AAA"),
            ]),
            rows(&[("0050X0000000009AAA", "0PL0X0000000002AAA")]),
        ];
        assert_eq!(
            take_all(&mut merge, &mut pages, "0050X0000000001AAA"),
            ["0PL0X0000000001AAA", "0PL0X0000000002AAA"]
        );
        assert_eq!(
            take_all(&mut merge, &mut pages, "0050X0000000003AAA"),
            ["0PL0X0000000001AAA", "0PL0X0000000003AAA"]
        );
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000004AAA"), Vec::<String>::new());
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000005AAA"), ["0PL0X0000000002AAA"]);
        // User 5's row ends page 4, so only the next page can tell that it has no more.
        assert!(pages.is_empty());
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000010AAA"), Vec::<String>::new());
        assert!(merge.is_ended());
    }

    #[test]
    fn a_user_with_no_rows_at_the_end_of_the_stream_gets_none() {
        let mut merge = AssignmentMerge::new("UserPackageLicense", "UserId");
        let mut pages = vec![];
        assert_eq!(take_all(&mut merge, &mut pages, "0050X0000000001AAA"), Vec::<String>::new());
        assert!(merge.is_ended());
    }

    #[test]
    fn the_merge_follows_byte_order_like_the_guard() {
        // Upper case sorts before lower case in byte order ('Z' < 'a'); the guard and the
        // merge agree on it.
        let mut merge = AssignmentMerge::new("UserPackageLicense", "UserId");
        merge.push_page(rows(&[("005Z", "050A"), ("005a", "050B")])).unwrap();
        merge.end();
        let mut ids = Vec::new();
        assert_eq!(merge.take("005Z", &mut ids), Merge::Done);
        assert_eq!(ids, ["050A"]);
        ids.clear();
        assert_eq!(merge.take("005a", &mut ids), Merge::Done);
        assert_eq!(ids, ["050B"]);
        assert_eq!(compare_ids("005Z", "005a"), Ordering::Less);
    }

    #[test]
    fn rows_out_of_order_are_refused_naming_the_object_and_both_ids() {
        let mut merge = AssignmentMerge::new("PermissionSetLicenseAssign", "AssigneeId");
        merge.push_page(rows(&[("0050X0000000002AAA", "0PL1"), ("0050X0000000002AAA", "0PL2")])).unwrap();
        // Across a page boundary, as within a page.
        let error = merge.push_page(rows(&[("0050X0000000001AAA", "0PL1")])).unwrap_err();
        assert_eq!(
            error,
            OutOfOrder {
                object: "PermissionSetLicenseAssign",
                field: "AssigneeId",
                previous: "0050X0000000002AAA".into(),
                next: "0050X0000000001AAA".into(),
            }
        );
        let message = error.to_string();
        assert!(message.contains("PermissionSetLicenseAssign"), "{message}");
        assert!(message.contains("`0050X0000000001AAA` came after `0050X0000000002AAA`"), "{message}");
    }

    #[test]
    fn unique_ids_must_go_up() {
        let mut users = IdOrder::new("User", "Id", true);
        users.check("0050X0000000001AAA").unwrap();
        users.check("0050X0000000002AAA").unwrap();
        assert!(users.check("0050X0000000002AAA").is_err(), "a repeated user id");
        let mut users = IdOrder::new("User", "Id", true);
        users.check("0050X0000000002AAA").unwrap();
        let error = users.check("0050X0000000001AAA").unwrap_err();
        assert_eq!((error.object, error.field), ("User", "Id"));
        let mut assignees = IdOrder::new("UserPackageLicense", "UserId", false);
        for id in ["a", "a", "b", "b"] {
            assignees.check(id).unwrap();
        }
        assert!(assignees.check("a").is_err());
    }
}
