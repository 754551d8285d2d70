// Cluster exports: the expanded graph as jobs for a real cluster engine. steppar grows no
// scheduler of its own: each multinode's slices map one-to-one onto an array job (Slurm) or an
// Indexed Job (Kubernetes) whose task i runs `steppar-host run-slice ... --slice i`; the slicer,
// barrier and plain nodes are single jobs, and "after" is the engine's dependency. The slice plan
// and markers live in the state folder on the shared filesystem, so the barrier is the same
// marker check everywhere.
#pragma once

#include "steppar/expand.hpp"
#include "steppar/project.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace steppar {

/// One job of a cluster export: a single task, or an array of `tasks` (one per slice).
struct ClusterJob {
    StepKind kind;                  ///< what its tasks run (a slice array: StepKind::slice)
    std::string name;               ///< e.g. "count-slicer", "count-slices", "count-barrier", "total"
    std::vector<std::string> args;  ///< steppar-host arguments; "{index}" stands for the task index
    int tasks = 1;                  ///< > 1 (or a multinode's 1) for slice arrays
    bool array = false;
    std::vector<std::size_t> after;  ///< jobs (indices) that must end first: succeed, unless in after_any
    std::string unit;                ///< the multinode, multipipeline or node it belongs to
    /// Of `after`, those that need only end (a barrier's slices: it judges their markers itself).
    std::vector<std::size_t> after_any;
    Resources resources;  ///< what each task needs (slices and plain nodes: the unit's `resources:`)
};

/// The jobs for a whole pipeline, in an order where each follows the jobs it waits for. `force`:
/// slicers plan every partition and plain nodes run, up to date or not (`run --force`).
std::vector<ClusterJob> cluster_jobs(const Project& project, const ExpandedGraph& graph, bool force = false);

/// The sbatch options that make `job` wait for the jobs it is after; `id_of(job index)` gives a
/// job's Slurm id ("" when it was not submitted). `afterok`, but `afterany` on a barrier's slices
/// (it judges their markers itself, so it fails naming them) while still `afterok` on its
/// slicer; and `--kill-on-invalid-dep=yes`, so that what follows a failure is cancelled, never
/// left PENDING for good (DependencyNeverSatisfied) on a cluster whose slurm.conf lacks
/// `DependencyParameters=kill_invalid_depend`. As sbatch arguments; none when it waits for
/// nothing.
std::vector<std::string> slurm_dependency(const ClusterJob& job, const std::function<std::string(std::size_t)>& id_of);

/// The Kubernetes Job name of each job: a valid DNS-1123 label, short enough that an Indexed
/// Job's pod names (NAME-INDEX) are too, unique (a digest of the step name is added where the
/// name had to change). Throws UsageError naming two steps that would still share a name.
std::vector<std::string> kubernetes_names(const std::vector<ClusterJob>& jobs);

/// Array indices as Slurm's --array wants them, runs compacted: {0,1,2,3,5,7,8} -> "0-3,5,7-8".
std::string array_ranges(const std::vector<int>& sorted_indices);

/// One sbatch of a slice array: task i runs slice `offset + i` (STEPPAR_SLICE_OFFSET).
struct ArrayChunk {
    int offset = 0;
    std::vector<int> tasks;  ///< sorted, each below the cluster's MaxArraySize
};

/// Cuts the slices to submit into arrays Slurm accepts: every task index below `max_array_size`
/// (Slurm's MaxArraySize, 1001 by default), and each --array list short enough for sbatch
/// (about 4 KB is refused). Throws UsageError when the cluster has arrays disabled (0).
std::vector<ArrayChunk> array_chunks(const std::vector<int>& sorted_slices, int max_array_size);

/// Slurm's default MaxArraySize (indices 0..1000).
inline constexpr int default_max_array_size = 1001;

struct SlurmExport {
    std::string host_program;  ///< steppar-host as the compute nodes see it
    std::string partition, account;
    std::vector<std::string> sbatch_args;
    int max_parallel = 0;  ///< array throttle (%M); 0: none
    int max_array_size = default_max_array_size;  ///< the cluster's MaxArraySize: larger arrays are split
    bool force = false;  ///< every partition and node runs again (slicer and node jobs get --force)
};

/// Writes one sbatch script per job (NN-name.sbatch) and submit.sh, which submits them in order
/// with `--dependency=afterok:` chains (`sbatch --parsable`). Returns the files written.
std::vector<std::filesystem::path> export_slurm(const Project& project, const ExpandedGraph& graph,
                                                const SlurmExport& options, const std::filesystem::path& out);

struct KubernetesExport {
    std::string host_program = "steppar-host";  ///< in the image
    std::string image;
    std::string volume_claim;
    int parallelism = 0;  ///< per Indexed Job; 0: all slices at once
};

/// Writes one Job manifest per job (NN-name.yaml; slices as Indexed Jobs) and a README.md saying
/// in which order to apply them. Returns the files written.
std::vector<std::filesystem::path> export_kubernetes(const Project& project, const ExpandedGraph& graph,
                                                     const KubernetesExport& options, const std::filesystem::path& out);

}  // namespace steppar
