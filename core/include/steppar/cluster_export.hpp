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
#include <string>
#include <vector>

namespace steppar {

/// One job of a cluster export: a single task, or an array of `tasks` (one per slice).
struct ClusterJob {
    std::string name;               ///< e.g. "count-slicer", "count-slices", "count-barrier", "total"
    std::vector<std::string> args;  ///< steppar-host arguments; "{index}" stands for the task index
    int tasks = 1;                  ///< > 1 (or a multinode's 1) for slice arrays
    bool array = false;
    std::vector<std::size_t> after;  ///< jobs (indices) that must succeed first
    std::string unit;                ///< the multinode, multipipeline or node it belongs to
};

/// The jobs for a whole pipeline, in an order where each follows the jobs it waits for.
std::vector<ClusterJob> cluster_jobs(const Project& project, const ExpandedGraph& graph);

struct SlurmExport {
    std::string host_program;  ///< steppar-host as the compute nodes see it
    std::string partition, account;
    std::vector<std::string> sbatch_args;
    int max_parallel = 0;  ///< array throttle (%M); 0: none
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
