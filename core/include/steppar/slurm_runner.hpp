// The Slurm runner: submits the exported jobs (cluster_export.hpp) to a real Slurm and waits.
// The slicer, each multinode's slices (one job array), the barrier and the plain nodes become
// jobs chained with --dependency=afterok; progress comes from the markers on the shared
// filesystem and from squeue. On a failed task, jobs that can never run are cancelled and the
// run fails naming the slice and partition, like the local runners. Reruns resume: slices whose
// marker is up to date finish at once.
//
// In four parts (slurm_runner.cpp): plan (what the local scheduler's rule says still has work,
// array sizes against MaxArraySize), submit (in order; a failed sbatch or a stop cancels what was
// already submitted), watch (squeue; cancels what can never run) and report (every job
// COMPLETED, and every slice and whole-function node vouched for by its own marker: Slurm's
// word alone proves nothing). Numbers Slurm prints are parsed whole or refused. The run's trace
// (run_trace.hpp) gathers the rows every task wrote on the shared filesystem, and gives the
// steps that wrote none a row from what Slurm and the plan say.
#pragma once

#include "steppar/cluster_export.hpp"
#include "steppar/program.hpp"
#include "steppar/runner.hpp"

namespace steppar {

struct SlurmRunOptions {
    SlurmExport submit;        ///< partition, account, extra sbatch lines, array throttle
    double poll_seconds = 0.5;       ///< the first wait between two looks at the jobs
    double max_poll_seconds = 10;    ///< the wait grows to this while nothing changes
    double slice_timeout = 0;        ///< --slice-timeout: each slice task's `--time` (a unit's `timeout:` wins); 0: none
    bool fail_fast = false;          ///< --fail-fast: the first failed task cancels every job
    std::filesystem::path trace_file;  ///< --trace FILE: the run's trace also there (run_trace.hpp)
    /// How sbatch, squeue, scancel and scontrol are run (a fake in tests).
    ProgramRunner run_program = steppar::run_program;
};

/// Runs the whole graph on Slurm (sbatch/squeue/scancel on PATH, SLURM_CONF as usual).
void run_on_slurm(Project& project, const ExpandedGraph& graph, const SlurmRunOptions& options);

}  // namespace steppar
