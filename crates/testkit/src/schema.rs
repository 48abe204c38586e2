//! Object schemas (from the describe fixtures) and generic, by-name access to record fields.

use std::sync::OnceLock;

use serde_json::Value;

use crate::data::{
    LoginHistory, OrgData, PackageLicense, PermissionSet, PermissionSetAssignment,
    PermissionSetGroupComponent, PermissionSetLicense, PermissionSetLicenseAssign, Profile, User,
    UserLicense, UserLogin, UserPackageLicense,
};
use crate::ids::parse_id;

/// The objects the simulated org serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SObject {
    Organization,
    UserLicense,
    Profile,
    PermissionSetLicense,
    PermissionSetLicenseAssign,
    PackageLicense,
    UserPackageLicense,
    UserLogin,
    User,
    LoginHistory,
    PermissionSet,
    PermissionSetGroupComponent,
    PermissionSetAssignment,
}

impl SObject {
    /// Every object, in describe-fixture order.
    pub const ALL: [SObject; 13] = [
        SObject::Organization,
        SObject::UserLicense,
        SObject::Profile,
        SObject::PermissionSetLicense,
        SObject::PermissionSetLicenseAssign,
        SObject::PackageLicense,
        SObject::UserPackageLicense,
        SObject::UserLogin,
        SObject::User,
        SObject::LoginHistory,
        SObject::PermissionSet,
        SObject::PermissionSetGroupComponent,
        SObject::PermissionSetAssignment,
    ];

    /// The API name, e.g. `PermissionSetLicense`.
    pub fn name(self) -> &'static str {
        match self {
            SObject::Organization => "Organization",
            SObject::UserLicense => "UserLicense",
            SObject::Profile => "Profile",
            SObject::PermissionSetLicense => "PermissionSetLicense",
            SObject::PermissionSetLicenseAssign => "PermissionSetLicenseAssign",
            SObject::PackageLicense => "PackageLicense",
            SObject::UserPackageLicense => "UserPackageLicense",
            SObject::UserLogin => "UserLogin",
            SObject::User => "User",
            SObject::LoginHistory => "LoginHistory",
            SObject::PermissionSet => "PermissionSet",
            SObject::PermissionSetGroupComponent => "PermissionSetGroupComponent",
            SObject::PermissionSetAssignment => "PermissionSetAssignment",
        }
    }

    /// Looks an object up by API name, ignoring case as Salesforce does.
    pub fn from_name(name: &str) -> Option<SObject> {
        SObject::ALL.into_iter().find(|o| o.name().eq_ignore_ascii_case(name))
    }

    fn key_prefix(self) -> &'static str {
        match self {
            SObject::Organization => "00D",
            SObject::UserLicense => "100",
            SObject::Profile => "00e",
            SObject::PermissionSetLicense => "0PL",
            SObject::PermissionSetLicenseAssign => "2LA",
            SObject::PackageLicense => "050",
            SObject::UserPackageLicense => "051",
            SObject::UserLogin => "0Yw",
            SObject::User => "005",
            SObject::LoginHistory => "0Ya",
            SObject::PermissionSet => "0PS",
            SObject::PermissionSetGroupComponent => "0PR",
            SObject::PermissionSetAssignment => "0Pa",
        }
    }

    fn fixture(self) -> &'static str {
        match self {
            SObject::Organization => include_str!("../../../fixtures/describe/Organization.json"),
            SObject::UserLicense => include_str!("../../../fixtures/describe/UserLicense.json"),
            SObject::Profile => include_str!("../../../fixtures/describe/Profile.json"),
            SObject::PermissionSetLicense => {
                include_str!("../../../fixtures/describe/PermissionSetLicense.json")
            }
            SObject::PermissionSetLicenseAssign => {
                include_str!("../../../fixtures/describe/PermissionSetLicenseAssign.json")
            }
            SObject::PackageLicense => include_str!("../../../fixtures/describe/PackageLicense.json"),
            SObject::UserPackageLicense => include_str!("../../../fixtures/describe/UserPackageLicense.json"),
            SObject::UserLogin => include_str!("../../../fixtures/describe/UserLogin.json"),
            SObject::User => include_str!("../../../fixtures/describe/User.json"),
            SObject::LoginHistory => include_str!("../../../fixtures/describe/LoginHistory.json"),
            SObject::PermissionSet => include_str!("../../../fixtures/describe/PermissionSet.json"),
            SObject::PermissionSetGroupComponent => {
                include_str!("../../../fixtures/describe/PermissionSetGroupComponent.json")
            }
            SObject::PermissionSetAssignment => {
                include_str!("../../../fixtures/describe/PermissionSetAssignment.json")
            }
        }
    }

    /// The parsed describe fixture.
    pub(crate) fn describe(self) -> &'static Describe {
        static CACHE: OnceLock<Vec<Describe>> = OnceLock::new();
        let all = CACHE.get_or_init(|| SObject::ALL.iter().map(|o| Describe::parse(*o)).collect());
        &all[self as usize]
    }

    /// Size of the index space scanned by queries (some slots may be empty).
    pub(crate) fn index_space(self, data: &OrgData) -> u64 {
        match self {
            SObject::Organization => 1,
            SObject::UserLicense => data.user_licenses.len() as u64,
            SObject::Profile => data.profiles.len() as u64,
            SObject::PermissionSetLicense => data.permission_set_licenses.len() as u64,
            SObject::PermissionSetLicenseAssign => data.psl_assignment_slots(),
            SObject::PackageLicense => data.package_licenses.len() as u64,
            SObject::UserPackageLicense => data.package_assignment_slots(),
            SObject::UserLogin => data.user_slots() as u64,
            SObject::User => data.user_slots() as u64,
            SObject::LoginHistory => data.login_history_slots(),
            SObject::PermissionSet => data.permission_sets.len() as u64,
            SObject::PermissionSetGroupComponent => data.permission_set_group_components.len() as u64,
            SObject::PermissionSetAssignment => data.set_assignment_slots(),
        }
    }

    /// Whether every slot of the index space holds a record.
    pub(crate) fn is_dense(self, data: &OrgData) -> bool {
        match self {
            SObject::PermissionSetLicenseAssign
            | SObject::UserPackageLicense
            | SObject::PermissionSetAssignment => false,
            SObject::User | SObject::UserLogin => data.users_are_dense(),
            _ => true,
        }
    }

    /// The id a record in slot `slot` has (or would have); monotone in `slot`.
    pub(crate) fn id_at(self, slot: u64) -> String {
        crate::ids::make_id(self.key_prefix(), slot + 1)
    }

    /// The record in slot `slot`.
    pub(crate) fn record_at(self, data: &OrgData, slot: u64) -> Option<Rec<'_>> {
        let at = |len: usize| usize::try_from(slot).ok().filter(|i| *i < len);
        Some(match self {
            SObject::Organization => {
                (slot == 0).then_some(())?;
                Rec::Organization(&data.organization)
            }
            SObject::UserLicense => Rec::UserLicense(&data.user_licenses[at(data.user_licenses.len())?]),
            SObject::Profile => Rec::Profile(&data.profiles[at(data.profiles.len())?]),
            SObject::PermissionSetLicense => Rec::PermissionSetLicense(
                &data.permission_set_licenses[at(data.permission_set_licenses.len())?],
            ),
            SObject::PermissionSetLicenseAssign => {
                Rec::PermissionSetLicenseAssign(data.psl_assignment_at(slot)?)
            }
            SObject::PackageLicense => {
                Rec::PackageLicense(&data.package_licenses[at(data.package_licenses.len())?])
            }
            SObject::UserPackageLicense => Rec::UserPackageLicense(data.user_package_license_at(slot)?),
            SObject::UserLogin => Rec::UserLogin(data.user_login_at(slot)?),
            SObject::User => Rec::User(Box::new(data.user(usize::try_from(slot).ok()?)?)),
            SObject::LoginHistory => Rec::LoginHistory(data.login_history_at(slot)?),
            SObject::PermissionSet => {
                Rec::PermissionSet(&data.permission_sets[at(data.permission_sets.len())?])
            }
            SObject::PermissionSetGroupComponent => Rec::PermissionSetGroupComponent(
                &data.permission_set_group_components[at(data.permission_set_group_components.len())?],
            ),
            SObject::PermissionSetAssignment => Rec::PermissionSetAssignment(data.set_assignment_at(slot)?),
        })
    }

    /// The record with this id, for following a lookup.
    pub(crate) fn record_by_id<'a>(self, data: &'a OrgData, id: &str) -> Option<Rec<'a>> {
        let n = parse_id(self.key_prefix(), id)?;
        self.record_at(data, n.checked_sub(1)?)
    }
}

/// One field of a describe fixture.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub name: String,
    pub reference_to: Option<SObject>,
    pub relationship_name: Option<String>,
    /// Whether `WHERE` may use it (describe's `filterable`; `true` when the fixture omits it).
    pub filterable: bool,
}

/// A parsed describe fixture: the JSON served by the describe endpoint plus its field list.
#[derive(Debug)]
pub(crate) struct Describe {
    pub json: Value,
    pub fields: Vec<FieldDef>,
}

impl Describe {
    fn parse(object: SObject) -> Describe {
        // The fixtures are part of this crate; a broken one is a bug caught by the unit tests.
        let json: Value = serde_json::from_str(object.fixture()).unwrap_or(Value::Null);
        let fields = json["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| FieldDef {
                        name: f["name"].as_str().unwrap_or_default().to_string(),
                        reference_to: f["referenceTo"]
                            .as_array()
                            .and_then(|r| r.first())
                            .and_then(Value::as_str)
                            .and_then(SObject::from_name),
                        relationship_name: f["relationshipName"].as_str().map(String::from),
                        filterable: f["filterable"].as_bool().unwrap_or(true),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Describe { json, fields }
    }

    /// The field with this name (any case).
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The lookup field whose relationship has this name (any case).
    pub fn relationship(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.relationship_name.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(name)))
    }
}

/// A record of any object, borrowed from the catalogue or generated on demand.
#[derive(Debug, Clone)]
pub(crate) enum Rec<'a> {
    Organization(&'a crate::data::Organization),
    UserLicense(&'a UserLicense),
    Profile(&'a Profile),
    PermissionSetLicense(&'a PermissionSetLicense),
    PermissionSetLicenseAssign(PermissionSetLicenseAssign),
    PackageLicense(&'a PackageLicense),
    UserPackageLicense(UserPackageLicense),
    UserLogin(UserLogin),
    User(Box<User>),
    LoginHistory(LoginHistory),
    PermissionSet(&'a PermissionSet),
    PermissionSetGroupComponent(&'a PermissionSetGroupComponent),
    PermissionSetAssignment(PermissionSetAssignment),
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, s)
}

impl Rec<'_> {
    pub fn object(&self) -> SObject {
        match self {
            Rec::Organization(_) => SObject::Organization,
            Rec::UserLicense(_) => SObject::UserLicense,
            Rec::Profile(_) => SObject::Profile,
            Rec::PermissionSetLicense(_) => SObject::PermissionSetLicense,
            Rec::PermissionSetLicenseAssign(_) => SObject::PermissionSetLicenseAssign,
            Rec::PackageLicense(_) => SObject::PackageLicense,
            Rec::UserPackageLicense(_) => SObject::UserPackageLicense,
            Rec::UserLogin(_) => SObject::UserLogin,
            Rec::User(_) => SObject::User,
            Rec::LoginHistory(_) => SObject::LoginHistory,
            Rec::PermissionSet(_) => SObject::PermissionSet,
            Rec::PermissionSetGroupComponent(_) => SObject::PermissionSetGroupComponent,
            Rec::PermissionSetAssignment(_) => SObject::PermissionSetAssignment,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Rec::Organization(r) => &r.id,
            Rec::UserLicense(r) => &r.id,
            Rec::Profile(r) => &r.id,
            Rec::PermissionSetLicense(r) => &r.id,
            Rec::PermissionSetLicenseAssign(r) => &r.id,
            Rec::PackageLicense(r) => &r.id,
            Rec::UserPackageLicense(r) => &r.id,
            Rec::UserLogin(r) => &r.id,
            Rec::User(r) => &r.id,
            Rec::LoginHistory(r) => &r.id,
            Rec::PermissionSet(r) => &r.id,
            Rec::PermissionSetGroupComponent(r) => &r.id,
            Rec::PermissionSetAssignment(r) => &r.id,
        }
    }

    /// The value of the field with this canonical name; `None` when the object has no such field.
    pub fn field(&self, name: &str) -> Option<Value> {
        let dt = |d: crate::data::SfDateTime| s(&d.salesforce());
        Some(match (self, name) {
            (_, "Id") => s(self.id()),
            (Rec::Organization(o), f) => match f {
                "Name" => s(&o.name),
                "OrganizationType" => s(&o.organization_type),
                "IsSandbox" => Value::Bool(o.is_sandbox),
                "InstanceName" => s(&o.instance_name),
                "TrialExpirationDate" | "NamespacePrefix" => Value::Null,
                "IsReadOnly" => Value::Bool(false),
                "Country" => s(&o.country),
                "DefaultLocaleSidKey" | "LanguageLocaleKey" => s("en_US"),
                "TimeZoneSidKey" => s("America/Los_Angeles"),
                "CreatedDate" => dt(o.created_date),
                _ => return None,
            },
            (Rec::UserLicense(l), f) => match f {
                "Name" => s(&l.name),
                "MasterLabel" => s(&l.master_label),
                "LicenseDefinitionKey" => s(&l.license_definition_key),
                "Status" => s(&l.status),
                "TotalLicenses" => Value::from(l.total_licenses),
                "UsedLicenses" => Value::from(l.used_licenses),
                "UsedLicensesLastUpdated" => dt(crate::data::SfDateTime(crate::data::REFERENCE_TIME - 3_600)),
                "CreatedDate" | "LastModifiedDate" => dt(l.created_date),
                _ => return None,
            },
            (Rec::Profile(p), f) => match f {
                "Name" => s(&p.name),
                "UserType" => s(&p.user_type),
                "UserLicenseId" => s(&p.user_license_id),
                "Description" => opt(p.description.as_deref()),
                "CreatedDate" | "LastModifiedDate" => dt(p.created_date),
                _ => return None,
            },
            (Rec::PermissionSetLicense(p), f) => match f {
                "DeveloperName" => s(&p.developer_name),
                "MasterLabel" => s(&p.master_label),
                "PermissionSetLicenseKey" => s(&p.permission_set_license_key),
                "Status" => s(&p.status),
                "ExpirationDate" => p.expiration_date.map_or(Value::Null, |d| s(&d.iso())),
                "TotalLicenses" => Value::from(p.total_licenses),
                "UsedLicenses" => Value::from(p.used_licenses),
                "IsAvailableForIntegrations" => Value::Bool(false),
                "CreatedDate" => dt(p.created_date),
                _ => return None,
            },
            (Rec::PermissionSetLicenseAssign(a), f) => match f {
                "AssigneeId" => s(&a.assignee_id),
                "PermissionSetLicenseId" => s(&a.permission_set_license_id),
                "CreatedDate" => dt(a.created_date),
                _ => return None,
            },
            (Rec::PackageLicense(p), f) => match f {
                "NamespacePrefix" => s(&p.namespace_prefix),
                "AllowedLicenses" => Value::from(p.allowed_licenses),
                "UsedLicenses" => Value::from(p.used_licenses),
                "Status" => s(&p.status),
                "ExpirationDate" => p.expiration_date.map_or(Value::Null, dt),
                "IsProvisioned" => Value::Bool(true),
                "IsAvailableForIntegrations" => Value::Bool(false),
                "CreatedDate" => dt(p.created_date),
                _ => return None,
            },
            (Rec::UserPackageLicense(u), f) => match f {
                "PackageLicenseId" => s(&u.package_license_id),
                "UserId" => s(&u.user_id),
                "CreatedDate" => dt(u.created_date),
                _ => return None,
            },
            (Rec::UserLogin(l), f) => match f {
                "UserId" => s(&l.user_id),
                "IsFrozen" => Value::Bool(l.is_frozen),
                "IsPasswordLocked" => Value::Bool(false),
                "LastModifiedDate" => dt(l.last_modified_date),
                _ => return None,
            },
            (Rec::PermissionSet(p), f) => match f {
                "Name" => s(&p.name),
                "LicenseId" => opt(p.license_id.as_deref()),
                "IsOwnedByProfile" => Value::Bool(p.is_owned_by_profile),
                "ProfileId" => opt(p.profile_id.as_deref()),
                "CreatedDate" => dt(p.created_date),
                _ => return None,
            },
            (Rec::PermissionSetGroupComponent(c), f) => match f {
                "PermissionSetGroupId" => s(&c.permission_set_group_id),
                "PermissionSetId" => s(&c.permission_set_id),
                "CreatedDate" => dt(c.created_date),
                _ => return None,
            },
            (Rec::PermissionSetAssignment(a), f) => match f {
                "AssigneeId" => s(&a.assignee_id),
                "PermissionSetId" => s(&a.permission_set_id),
                "PermissionSetGroupId" => opt(a.permission_set_group_id.as_deref()),
                "SystemModstamp" => dt(a.system_modstamp),
                _ => return None,
            },
            (Rec::LoginHistory(l), f) => match f {
                "UserId" => s(&l.user_id),
                "LoginTime" => dt(l.login_time),
                "Status" => s(l.status),
                "Application" => s(l.application),
                "LoginType" => s(l.login_type),
                _ => return None,
            },
            (Rec::User(u), f) => match f {
                "Username" => s(&u.username),
                "Email" => opt(u.email.as_deref()),
                "FirstName" => opt(u.first_name.as_deref()),
                "LastName" => s(&u.last_name),
                "Name" => s(&u.name),
                "Alias" => s(&u.alias),
                "IsActive" => Value::Bool(u.is_active),
                "UserType" => s(&u.user_type),
                "ProfileId" => opt(u.profile_id.as_deref()),
                "LastLoginDate" => u.last_login_date.map_or(Value::Null, dt),
                "CreatedDate" => dt(u.created_date),
                "LastModifiedDate" => dt(u.last_modified_date),
                "CompanyName" => opt(u.company_name.as_deref()),
                "Department" => opt(u.department.as_deref()),
                "Title" => opt(u.title.as_deref()),
                "City" => opt(u.city.as_deref()),
                "Country" => opt(u.country.as_deref()),
                "CountryCode" => opt(u.country_code.as_deref()),
                "FederationIdentifier" => opt(u.federation_identifier.as_deref()),
                "EmployeeNumber" => opt(u.employee_number.as_deref()),
                "IsPortalEnabled" => Value::Bool(u.is_portal_enabled),
                "TimeZoneSidKey" => s("America/Los_Angeles"),
                "LocaleSidKey" | "LanguageLocaleKey" => s("en_US"),
                feature => match feature.strip_prefix("UserPermissions") {
                    Some(name) if crate::data::FEATURE_LICENCES.iter().any(|(known, _)| *known == name) => {
                        Value::Bool(u.feature_licences.contains(&name))
                    }
                    _ => return None,
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgSpec;

    #[test]
    fn every_described_field_has_a_value_on_every_object() {
        let data = OrgData::generate(&OrgSpec::small());
        for object in SObject::ALL {
            let describe = object.describe();
            assert_eq!(describe.json["name"], object.name());
            assert!(!describe.fields.is_empty(), "{} fixture has no fields", object.name());
            let record = (0..object.index_space(&data))
                .find_map(|slot| object.record_at(&data, slot))
                .unwrap_or_else(|| panic!("no {} record", object.name()));
            for field in &describe.fields {
                assert!(record.field(&field.name).is_some(), "{}.{} has no value", object.name(), field.name);
            }
        }
    }

    #[test]
    fn lookups_resolve_by_id() {
        let data = OrgData::generate(&OrgSpec::small());
        let user = data.user(1).unwrap_or_else(|| panic!("user 1"));
        let profile = SObject::Profile.record_by_id(&data, user.profile_id.as_deref().unwrap_or_default());
        assert!(matches!(profile, Some(Rec::Profile(p)) if p.name == "Standard User"));
        assert!(SObject::User.record_by_id(&data, &user.id).is_some());
        assert!(SObject::User.record_by_id(&data, "005000000000000AAA").is_none());
    }
}
