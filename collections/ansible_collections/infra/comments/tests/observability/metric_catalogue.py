"""The metric names the dashboards and alerts may use, each with where it was read and for which version.

Names only (facts about each exporter's output), read from the upstream source or documentation at the version the
platform runs; nothing is copied from them but the names. A dashboard or rule that uses a name found in none of these
fails test_metric_names.py: a typo or a metric an exporter does not have would otherwise be a panel that silently
shows "No data" on the cluster, where nothing here can see it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    project: str
    version: str
    url: str
    names: frozenset[str]
    note: str = ""


def _histogram(*bases: str) -> set[str]:
    return {f"{base}_{suffix}" for base in bases for suffix in ("bucket", "sum", "count")}


# The app's own metrics. test_real_prometheus.py also checks that the running app exposes every one of them.
APP = Source(
    project="comments-api (app/comments_api/observability.py)",
    version="this repository",
    url="app/comments_api/observability.py",
    names=frozenset({"http_requests_total", "comments_created_total", *_histogram("http_request_duration_seconds")}),
)

# Series Prometheus itself writes for every target it scrapes.
PROMETHEUS = Source(
    project="Prometheus (per-target series of every scrape)",
    version="2.42 here, 3.5 on the cluster (the same names)",
    url="https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series",
    names=frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"}),
)

# The ingress chart 0.24.0 runs image kong:3.9 (its values.yaml, `image.tag`), that is the newest Kong 3.9 patch
# release; the plugin's exporter did not change between 3.9.0 and 3.9.3 (`git diff 3.9.0 3.9.3 --
# kong/plugins/prometheus` is empty). Every name gets the exporter's "kong_" prefix.
KONG = Source(
    project="Kong Gateway prometheus plugin",
    version="Kong 3.9.3 (image kong:3.9 of Kong's ingress chart 0.24.0)",
    url="https://github.com/Kong/kong/blob/3.9.3/kong/plugins/prometheus/exporter.lua",
    names=frozenset(
        {
            "kong_http_requests_total",  # {service, route, code, source, workspace, consumer}
            "kong_bandwidth_bytes",  # {service, route, direction, workspace, consumer}
            "kong_nginx_connections_total",  # {node_id, subsystem, state}: accepted|handled|total|active|reading|...
            "kong_nginx_requests_total",
            "kong_nginx_timers",
            "kong_datastore_reachable",
            "kong_node_info",
            "kong_upstream_target_health",
            "kong_memory_workers_lua_vms_bytes",
            "kong_memory_lua_shared_dict_bytes",
            "kong_memory_lua_shared_dict_total_bytes",
            *_histogram("kong_kong_latency_ms", "kong_upstream_latency_ms", "kong_request_latency_ms"),
        }
    ),
    note="Kong's own `service` label survives only with honorLabels on the ServiceMonitor endpoint (README).",
)

# CloudNativePG 1.30.0 (the cloudnative-pg chart 0.29.0's appVersion): the instance manager's built-in collector
# (`cnpg_collector_*`, pg_collector.go) and the operator's default monitoring queries, exposed as
# cnpg_<query>_<column> (default-monitoring.yaml; `name:` overrides the query key, as for pg_stat_bgwriter_17).
_CNPG_QUERIES = {
    "backends": ("total", "max_tx_duration_seconds"),
    "backends_waiting": ("total",),
    "pg_database": ("size_bytes", "xid_age", "mxid_age"),
    "pg_postmaster": ("start_time",),
    "pg_replication": ("lag", "in_recovery", "is_wal_receiver_up", "streaming_replicas"),
    "pg_replication_slots": ("active", "pg_wal_lsn_diff"),
    "pg_stat_archiver": (
        "archived_count",
        "failed_count",
        "seconds_since_last_archival",
        "seconds_since_last_failure",
        "last_archived_time",
        "last_failed_time",
        "last_archived_wal_start_lsn",
        "last_failed_wal_start_lsn",
        "stats_reset_time",
    ),
    "pg_stat_bgwriter": (
        "checkpoints_timed",
        "checkpoints_req",
        "checkpoint_write_time",
        "checkpoint_sync_time",
        "buffers_checkpoint",
        "buffers_clean",
        "maxwritten_clean",
        "buffers_backend",
        "buffers_backend_fsync",
        "buffers_alloc",
        "stats_reset_time",
    ),
    "pg_stat_checkpointer": (
        "checkpoints_timed",
        "checkpoints_req",
        "restartpoints_timed",
        "restartpoints_req",
        "restartpoints_done",
        "write_time",
        "sync_time",
        "buffers_written",
        "stats_reset_time",
    ),
    "pg_stat_database": (
        "xact_commit",
        "xact_rollback",
        "blks_read",
        "blks_hit",
        "tup_returned",
        "tup_fetched",
        "tup_inserted",
        "tup_updated",
        "tup_deleted",
        "conflicts",
        "temp_files",
        "temp_bytes",
        "deadlocks",
        "blk_read_time",
        "blk_write_time",
    ),
    "pg_stat_replication": (
        "backend_start",
        "backend_xmin_age",
        "sent_diff_bytes",
        "write_diff_bytes",
        "flush_diff_bytes",
        "replay_diff_bytes",
        "write_lag_seconds",
        "flush_lag_seconds",
        "replay_lag_seconds",
    ),
    "pg_settings": ("setting",),
    "pg_extensions": ("update_available",),
}
_CNPG_COLLECTOR = (
    "up",  # {cluster}: 1 if PostgreSQL is up
    "collections_total",
    "collection_errors_total",
    "last_collection_error",
    "collection_duration_seconds",
    "manual_switchover_required",
    "sync_replicas",
    "replica_mode",
    "pg_wal_archive_status",
    "postgres_version",
    "pg_wal",
    "first_recoverability_point",
    "last_available_backup_timestamp",
    "last_failed_backup_timestamp",
    "fencing_on",
    "nodes_used",
    "wal_records",
    "wal_fpi",
    "wal_bytes",
    "wal_buffers_full",
    "wal_write",
    "wal_sync",
    "wal_write_time",
    "wal_sync_time",
)
CLOUDNATIVE_PG = Source(
    project="CloudNativePG instance exporter (port 9187)",
    version="CloudNativePG 1.30.0 (chart cloudnative-pg 0.29.0)",
    url=(
        "https://github.com/cloudnative-pg/cloudnative-pg/blob/v1.30.0/config/manager/default-monitoring.yaml and "
        "https://github.com/cloudnative-pg/cloudnative-pg/blob/v1.30.0/pkg/management/postgres/webserver/"
        "metricserver/pg_collector.go"
    ),
    names=frozenset(
        {f"cnpg_{query}_{column}" for query, columns in _CNPG_QUERIES.items() for column in columns}
        | {f"cnpg_collector_{name}" for name in _CNPG_COLLECTOR}
    ),
)

# kube-prometheus-stack 77.6.2 ships kube-state-metrics v2.17.0 (its subchart 6.3.0).
_KSM_DOCS = "https://github.com/kubernetes/kube-state-metrics/blob/v2.17.0/docs/metrics/workload/"
KUBE_STATE_METRICS = Source(
    project="kube-state-metrics",
    version="v2.17.0 (kube-prometheus-stack 77.6.2)",
    url=f"{_KSM_DOCS}deployment-metrics.md, horizontalpodautoscaler-metrics.md, pod-metrics.md",
    names=frozenset(
        {
            *(
                f"kube_deployment_{name}"
                for name in (
                    "status_replicas",
                    "status_replicas_ready",
                    "status_replicas_available",
                    "status_replicas_unavailable",
                    "status_replicas_updated",
                    "status_observed_generation",
                    "status_condition",
                    "spec_replicas",
                    "spec_paused",
                    "metadata_generation",
                    "created",
                )
            ),
            *(
                f"kube_horizontalpodautoscaler_{name}"
                for name in (
                    "info",
                    "metadata_generation",
                    "spec_max_replicas",
                    "spec_min_replicas",
                    "spec_target_metric",  # {metric_name, metric_target_type}
                    "status_target_metric",
                    "status_condition",
                    "status_current_replicas",
                    "status_desired_replicas",
                )
            ),
            *(
                f"kube_pod_{name}"
                for name in (
                    "info",
                    "owner",
                    "status_phase",
                    "status_ready",
                    "status_reason",
                    "container_info",
                    "container_status_ready",
                    "container_status_running",
                    "container_status_waiting",
                    "container_status_waiting_reason",
                    "container_status_terminated",
                    "container_status_terminated_reason",
                    "container_status_last_terminated_reason",
                    "container_status_last_terminated_exitcode",
                    "container_status_restarts_total",
                    "container_resource_requests",  # {resource, unit}
                    "container_resource_limits",  # {resource, unit}
                )
            ),
        }
    ),
)

# cAdvisor as the kubelet embeds it (`/metrics/cadvisor`). The names below are the same in cAdvisor's table from
# v0.52.1 to v0.60.5 (what Kubernetes 1.33 to 1.36 vendor). kube-prometheus-stack drops some of them at scrape
# time (kubelet.serviceMonitor.cAdvisorMetricRelabelings); test_metric_names.py refuses those, reading the drop
# rules from the chart's values file in $SHARED.
CADVISOR = Source(
    project="cAdvisor (in the kubelet)",
    version="docs/storage/prometheus.md at v0.53.0",
    url="https://github.com/google/cadvisor/blob/v0.53.0/docs/storage/prometheus.md",
    names=frozenset(
        {
            "container_cpu_usage_seconds_total",
            "container_cpu_cfs_periods_total",
            "container_cpu_cfs_throttled_periods_total",
            "container_cpu_cfs_throttled_seconds_total",
            "container_memory_working_set_bytes",
            "container_memory_usage_bytes",
            "container_memory_rss",
            "container_memory_cache",
            "container_memory_swap",
            "container_oom_events_total",
            "container_network_receive_bytes_total",
            "container_network_transmit_bytes_total",
            "container_spec_cpu_quota",
            "container_spec_memory_limit_bytes",
        }
    ),
)

# The Barman Cloud plugin v0.13.0 (chart plugin-barman-cloud 0.7.0): gauges without labels of their own, which
# CloudNativePG's instance exporter (port 9187, the PodMonitor comments-db) serves beside its own. The names are
# the plugin name barman-cloud.cloudnative-pg.io with "." and "-" as "_", then the metric (metrics.go's
# buildFqName); its observability page lists the same three. They replace the in-tree cnpg_collector_*_backup_*
# gauges, which stay 0 once the plugin does the backups.
BARMAN_CLOUD_PLUGIN = Source(
    project="Barman Cloud plugin for CloudNativePG (CNPG-I metrics through the instance exporter)",
    version="v0.13.0 (chart plugin-barman-cloud 0.7.0)",
    url=(
        "https://github.com/cloudnative-pg/plugin-barman-cloud/blob/v0.13.0/internal/cnpgi/instance/metrics.go and "
        "https://github.com/cloudnative-pg/plugin-barman-cloud/blob/v0.13.0/web/docs/observability.md"
    ),
    names=frozenset(
        {
            "barman_cloud_cloudnative_pg_io_first_recoverability_point",  # unix time; 0 without a backup
            "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",  # unix time; 0 without a backup
            "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",  # unix time; 0 if none failed
        }
    ),
    note="Every instance reports the same values (the ObjectStore's status for the cluster's serverName).",
)

SOURCES = (APP, PROMETHEUS, KONG, CLOUDNATIVE_PG, BARMAN_CLOUD_PLUGIN, KUBE_STATE_METRICS, CADVISOR)


def source_of(name: str) -> Source | None:
    for source in SOURCES:
        if name in source.names:
            return source
    return None
