//! Which API versions and fields this cluster serves, and the choices made from that. The choices
//! are pure (a `Served` in, a decision out); `Served::fetch` is the one place that asks the server.
//!
//! Supported: Kubernetes 1.20 to 1.33. What differs in that range, for the objects we write or read:
//! CronJob `batch/v1` from 1.21 (`batch/v1beta1` before, removed in 1.25); PodDisruptionBudget
//! `policy/v1` from 1.21 (`v1beta1` before, removed in 1.25); EndpointSlice `discovery.k8s.io/v1`
//! from 1.21 (`v1beta1` from 1.17, removed in 1.25); CronJob `spec.timeZone` and
//! `topologySpreadConstraints[].matchLabelKeys` from 1.27.

use std::collections::BTreeSet;

use super::error::{Attempt, K8sError, Problem};

/// The server's version and the `group/version`s it serves (`v1` for the core group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub major: u32,
    pub minor: u32,
    /// As the server says it (`v1.20.2`).
    pub git_version: String,
    pub group_versions: BTreeSet<String>,
    /// Whether `batch/v1` has `cronjobs`, when asked (1.20 serves `batch/v1` for Jobs only).
    pub cronjobs_in_batch_v1: Option<bool>,
}

pub const OLDEST_SUPPORTED: (u32, u32) = (1, 20);
pub const NEWEST_SUPPORTED: (u32, u32) = (1, 33);

/// An API version chosen for a kind, and the note to print when it is not the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub api_version: &'static str,
    pub note: Option<String>,
}

/// How `webhook status` finds the Service's ready endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointsApi {
    SliceV1,
    SliceV1beta1,
    /// Core `v1` Endpoints, served everywhere.
    Endpoints,
}

/// Leading digits of `minor` ("20+" on some managed clusters).
fn number(text: &str) -> u32 {
    text.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

impl Served {
    pub fn new(
        major: &str,
        minor: &str,
        git_version: &str,
        group_versions: BTreeSet<String>,
    ) -> Self {
        Self {
            major: number(major),
            minor: number(minor),
            git_version: git_version.to_owned(),
            group_versions,
            cronjobs_in_batch_v1: None,
        }
    }

    pub fn serves(&self, group_version: &str) -> bool {
        self.group_versions.contains(group_version)
    }

    pub fn at_least(&self, minor: u32) -> bool {
        (self.major, self.minor) >= (1, minor)
    }

    /// "Kubernetes 1.20" for messages.
    pub fn name(&self) -> String {
        format!("Kubernetes {}.{}", self.major, self.minor)
    }

    /// A note when the server is outside the tested range; the plugin still tries.
    pub fn support_note(&self) -> Option<String> {
        let v = (self.major, self.minor);
        if v < OLDEST_SUPPORTED || v > NEWEST_SUPPORTED {
            Some(format!(
                "this cluster runs {} ({}); {} supports Kubernetes {}.{} to {}.{}",
                self.name(),
                self.git_version,
                logbackup_core::ids::PRODUCT,
                OLDEST_SUPPORTED.0,
                OLDEST_SUPPORTED.1,
                NEWEST_SUPPORTED.0,
                NEWEST_SUPPORTED.1
            ))
        } else {
            None
        }
    }

    fn not_served(&self, kind: &str, resource: &str, wanted: &str) -> K8sError {
        K8sError::new(
            Attempt::new("list", kind, resource),
            Problem::Unsupported(format!(
                "this cluster runs {} and serves none of {wanted}",
                self.name()
            )),
        )
    }

    /// CronJob: `batch/v1` (1.21+), else `batch/v1beta1`.
    pub fn cronjob(&self) -> Result<Chosen, K8sError> {
        let v1 = self.serves("batch/v1")
            && self
                .cronjobs_in_batch_v1
                .unwrap_or_else(|| self.at_least(21));
        if v1 {
            Ok(Chosen {
                api_version: "batch/v1",
                note: None,
            })
        } else if self.serves("batch/v1beta1") {
            Ok(Chosen {
                api_version: "batch/v1beta1",
                note: Some(format!(
                    "this cluster runs {}; CronJob batch/v1 needs 1.21, using batch/v1beta1",
                    self.name()
                )),
            })
        } else {
            Err(self.not_served("CronJob", "cronjobs.batch", "batch/v1, batch/v1beta1"))
        }
    }

    /// PodDisruptionBudget: `policy/v1` (1.21+), else `policy/v1beta1`.
    pub fn pod_disruption_budget(&self) -> Result<Chosen, K8sError> {
        if self.serves("policy/v1") && self.at_least(21) {
            Ok(Chosen {
                api_version: "policy/v1",
                note: None,
            })
        } else if self.serves("policy/v1beta1") {
            Ok(Chosen {
                api_version: "policy/v1beta1",
                note: Some(format!(
                    "this cluster runs {}; PodDisruptionBudget policy/v1 needs 1.21, using policy/v1beta1",
                    self.name()
                )),
            })
        } else {
            Err(self.not_served(
                "PodDisruptionBudget",
                "poddisruptionbudgets.policy",
                "policy/v1, policy/v1beta1",
            ))
        }
    }

    /// EndpointSlice `v1`, `v1beta1`, or the core Endpoints.
    pub fn endpoints(&self) -> EndpointsApi {
        if self.serves("discovery.k8s.io/v1") {
            EndpointsApi::SliceV1
        } else if self.serves("discovery.k8s.io/v1beta1") {
            EndpointsApi::SliceV1beta1
        } else {
            EndpointsApi::Endpoints
        }
    }

    /// CronJob `spec.timeZone` (GA in 1.27). Older servers drop the field silently, so the
    /// schedule would run in the controller manager's zone: refuse instead.
    pub fn cronjob_time_zone(&self) -> Result<(), String> {
        if self.at_least(27) {
            Ok(())
        } else {
            Err(format!(
                "--time-zone needs Kubernetes 1.27 (CronJob spec.timeZone) and this cluster runs {}: \
                 it would drop the field and run the schedule in the controller manager's time zone \
                 (usually UTC). Leave out --time-zone and write the cron expression in that zone",
                self.name()
            ))
        }
    }

    /// `topologySpreadConstraints[].matchLabelKeys` (1.27+). Only an optimisation for rolling
    /// updates: left out on older servers, which would refuse the object.
    pub fn match_label_keys(&self) -> bool {
        self.at_least(27)
    }

    /// Asks the server: `/version`, `/api` and `/apis`.
    pub async fn fetch(client: &kube::Client, server: &str) -> Result<Self, K8sError> {
        let attempt =
            || Attempt::described("get", "/version", "ask the API server which APIs it serves");
        let failed = |e| super::error::from_kube(attempt(), server, e);
        let info = client.apiserver_version().await.map_err(failed)?;
        let mut group_versions = BTreeSet::new();
        for v in client
            .list_core_api_versions()
            .await
            .map_err(failed)?
            .versions
        {
            group_versions.insert(v);
        }
        for group in client.list_api_groups().await.map_err(failed)?.groups {
            for v in group.versions {
                group_versions.insert(v.group_version);
            }
        }
        let mut served = Self::new(&info.major, &info.minor, &info.git_version, group_versions);
        if served.serves("batch/v1") {
            let resources = client
                .list_api_group_resources("batch/v1")
                .await
                .map_err(failed)?;
            served.cronjobs_in_batch_v1 =
                Some(resources.resources.iter().any(|r| r.name == "cronjobs"));
        }
        Ok(served)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a server of that minor version serves, for the APIs that matter here.
    fn served(minor: u32) -> Served {
        let mut gv: BTreeSet<String> = ["v1", "apps/v1", "admissionregistration.k8s.io/v1"]
            .into_iter()
            .map(String::from)
            .collect();
        if minor >= 21 {
            gv.extend(["batch/v1", "policy/v1", "discovery.k8s.io/v1"].map(String::from));
        } else {
            gv.insert("batch/v1".into()); // Jobs
        }
        if minor < 25 {
            gv.extend(
                [
                    "batch/v1beta1",
                    "policy/v1beta1",
                    "discovery.k8s.io/v1beta1",
                ]
                .map(String::from),
            );
        }
        Served::new("1", &minor.to_string(), &format!("v1.{minor}.0"), gv)
    }

    #[test]
    fn cronjob_is_v1beta1_on_1_20_with_a_note_and_v1_after() {
        let old = served(20).cronjob().unwrap();
        assert_eq!(old.api_version, "batch/v1beta1");
        assert_eq!(
            old.note.as_deref(),
            Some("this cluster runs Kubernetes 1.20; CronJob batch/v1 needs 1.21, using batch/v1beta1")
        );
        for minor in 21..=33 {
            assert_eq!(
                served(minor).cronjob().unwrap().api_version,
                "batch/v1",
                "1.{minor}"
            );
        }
    }

    #[test]
    fn pdb_and_endpoint_slices_follow_what_is_served() {
        assert_eq!(
            served(20).pod_disruption_budget().unwrap().api_version,
            "policy/v1beta1"
        );
        assert_eq!(
            served(33).pod_disruption_budget().unwrap().api_version,
            "policy/v1"
        );
        assert_eq!(served(20).endpoints(), EndpointsApi::SliceV1beta1);
        assert_eq!(served(21).endpoints(), EndpointsApi::SliceV1);
        let bare = Served::new("1", "16", "v1.16.0", ["v1".to_string()].into());
        assert_eq!(bare.endpoints(), EndpointsApi::Endpoints);
        let e = bare.cronjob().unwrap_err();
        assert!(
            e.to_string()
                .contains("serves none of batch/v1, batch/v1beta1"),
            "{e}"
        );
    }

    #[test]
    fn time_zone_and_match_label_keys_need_1_27() {
        let refused = served(26).cronjob_time_zone().unwrap_err();
        assert!(
            refused.contains("needs Kubernetes 1.27") && refused.contains("runs Kubernetes 1.26"),
            "{refused}"
        );
        assert!(served(27).cronjob_time_zone().is_ok());
        assert!(!served(20).match_label_keys());
        assert!(served(33).match_label_keys());
    }

    #[test]
    fn the_resource_list_decides_over_the_version() {
        let mut s = served(20);
        s.cronjobs_in_batch_v1 = Some(true);
        assert_eq!(s.cronjob().unwrap().api_version, "batch/v1");
        let mut s = served(22);
        s.cronjobs_in_batch_v1 = Some(false);
        assert_eq!(s.cronjob().unwrap().api_version, "batch/v1beta1");
    }

    #[test]
    fn managed_cluster_versions_parse_and_the_range_is_told() {
        let gke = Served::new("1", "20+", "v1.20.15-gke.1", BTreeSet::new());
        assert_eq!(gke.minor, 20);
        assert!(gke.support_note().is_none());
        let old = Served::new("1", "19", "v1.19.4", BTreeSet::new());
        assert!(old
            .support_note()
            .unwrap()
            .contains("supports Kubernetes 1.20 to 1.33"));
    }
}
