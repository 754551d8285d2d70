// The Slurm runner's decisions against a fake command runner: which programs it starts (argv),
// and what it does when Slurm reports a failed task or a stop arrives. No cluster, no
// processes: sbatch, squeue, scancel and scontrol answer from the fake.
#include "support.hpp"

#include <steppar/expand.hpp>
#include <steppar/interruption.hpp>
#include <steppar/log.hpp>
#include <steppar/marker.hpp>
#include <steppar/plan.hpp>
#include <steppar/project.hpp>
#include <steppar/slurm_runner.hpp>

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using steppar_test::contains;

namespace {

// count (a multinode of 2 slices) followed by total (a plain node).
const std::string count_then_total = R"(
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)";

// A pipeline folder with two inputs and, by default, count_then_total.
struct SlurmWorkspace {
    fs::path dir;
    explicit SlurmWorkspace(const std::string& nodes = count_then_total) {
        std::string pattern = (fs::temp_directory_path() / "steppar-slurm-unit-XXXXXX").string();
        BOOST_REQUIRE(::mkdtemp(pattern.data()));
        dir = pattern;
        fs::create_directories(dir / "docs");
        std::ofstream(dir / "docs/a.txt") << "a\n";
        std::ofstream(dir / "docs/b.txt") << "b b\n";
        std::ofstream(dir / "pipeline.yml") << "plugins: {builtin: " << STEPPAR_BUILTIN_PLUGIN << "}" << nodes;
    }
    ~SlurmWorkspace() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

// Slurm as the runner sees it: sbatch hands out ids from 501, squeue answers from `states`
// (id -> "STATE|REASON"), every call is recorded.
struct FakeSlurm {
    std::vector<std::vector<std::string>> calls;
    std::map<std::string, std::string> states;
    int next_id = 501;
    std::string max_array_size = "1001";
    int failing_sbatch = 0;  ///< the n-th sbatch (from 1) fails; 0: none
    std::string sbatch_prints;  ///< what sbatch prints instead of an id ("" : an id)

    steppar::ProgramResult operator()(const std::vector<std::string>& argv, std::string_view) {
        calls.push_back(argv);
        const std::string& program = argv.front();
        if (program == "scontrol") return {0, "ClusterName = fake\nMaxArraySize            = " + max_array_size + "\n", ""};
        if (program == "sbatch") {
            if (static_cast<int>(of("sbatch").size()) == failing_sbatch) return {1, "", "sbatch: error: Batch job submission failed: Invalid account"};
            if (!sbatch_prints.empty()) return {0, sbatch_prints, ""};
            return {0, std::to_string(next_id++) + ";fake\n", ""};
        }
        if (program == "scancel") {
            for (std::size_t i = 1; i < argv.size(); ++i)
                for (auto& [id, state] : states)  // a job, or every task of an array
                    if ((id == argv[i] || id.rfind(argv[i] + "_", 0) == 0) && state.rfind("COMPLETED", 0) != 0 && state.rfind("FAILED", 0) != 0)
                        state = "CANCELLED|None";
            return {0, "", ""};
        }
        if (program == "squeue") {
            std::string table;
            for (const auto& [id, state] : states) table += id + "|" + state + "|node1\n";
            return {0, table, ""};
        }
        return {1, "", program + ": not faked"};
    }

    // The calls of one program, each joined with spaces.
    std::vector<std::string> of(const std::string& program) const {
        std::vector<std::string> lines;
        for (const auto& argv : calls) {
            if (argv.front() != program) continue;
            std::string line;
            for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
            lines.push_back(line);
        }
        return lines;
    }
};

// The workspace opened as a project, its graph, a fake Slurm in `initial` states, and runner
// options that poll at once and run programs through the fake (`before` sees each call first).
struct SlurmRun {
    SlurmWorkspace ws;
    std::unique_ptr<steppar::Project> project;
    steppar::ExpandedGraph graph;
    std::shared_ptr<FakeSlurm> slurm = std::make_shared<FakeSlurm>();
    steppar::SlurmRunOptions options;

    explicit SlurmRun(std::map<std::string, std::string> initial,
                      std::function<void(const FakeSlurm&, const std::vector<std::string>&)> before = {},
                      const std::string& nodes = count_then_total)
        : ws(nodes) {
        steppar::set_quiet(true);
        project = steppar::Project::open(ws.dir / "pipeline.yml", std::nullopt);
        graph = steppar::expand(project->pipeline());
        slurm->states = std::move(initial);
        options.poll_seconds = 0.001;
        options.max_poll_seconds = 0.002;
        options.run_program = [fake = slurm, before](const std::vector<std::string>& argv, std::string_view input) {
            if (before) before(*fake, argv);
            return (*fake)(argv, input);
        };
    }
    ~SlurmRun() { steppar::set_quiet(false); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(slurm_runner)

// Submission is an argv per sbatch (the script path as one argument); a task that fails makes
// the runner cancel every job that waits for it, and the run fails naming the slice.
BOOST_AUTO_TEST_CASE(a_failed_task_cancels_what_waits_for_it_and_fails_the_run) {
    // The slices' array is 501, the barrier 502, total 503 (the slicer runs here: nothing
    // upstream of it has work).
    SlurmRun run({{"501_0", "FAILED|NonZeroExitCode"}, {"501_1", "COMPLETED|None"}, {"502", "PENDING|Dependency"}, {"503", "PENDING|Dependency"}});
    const auto& slurm = run.slurm;
    const std::string error = steppar_test::error_of<steppar::NodeError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "count-slice-0: Slurm task 501_0 FAILED on node1"));

    const auto sbatch = slurm->of("sbatch");
    BOOST_REQUIRE_EQUAL(sbatch.size(), 3u);
    BOOST_TEST(contains(sbatch[0], "sbatch --parsable --array=0-1 --export=ALL,STEPPAR_SLICE_OFFSET=0 "));
    BOOST_TEST(contains(sbatch[0], "-count-slices.sbatch"));
    BOOST_TEST(contains(sbatch[1], "sbatch --parsable --dependency=afterany:501 --kill-on-invalid-dep=yes "));
    BOOST_TEST(contains(sbatch[2], "sbatch --parsable --dependency=afterok:502 --kill-on-invalid-dep=yes "));
    BOOST_TEST(contains(slurm->of("squeue").front(), "squeue -h -t all -j 501,502,503 -o %i|%T|%r|%N"));
    // Everything that waits for the failed array, directly or not, is cancelled at once: the
    // barrier (it would fail) and total (it never could run); one scancel, one id per argument.
    BOOST_TEST(slurm->of("scancel") == std::vector<std::string>{"scancel 502 503"});
}

// A stop (SIGTERM) while the runner waits: every submitted job is cancelled with one scancel,
// and the run ends as interrupted (exit code 143), so the rerun resumes.
BOOST_AUTO_TEST_CASE(a_stop_while_waiting_cancels_every_job) {
    SlurmRun run({{"501_0", "RUNNING|None"}, {"501_1", "PENDING|Resources"}, {"502", "PENDING|Dependency"}, {"503", "PENDING|Dependency"}},
                 [](const FakeSlurm& fake, const std::vector<std::string>& argv) {
                     if (argv.front() == "squeue" && fake.of("squeue").size() == 1) std::raise(SIGTERM);  // while it waits
                 });
    int exit_code = 0;
    try {
        steppar::run_on_slurm(*run.project, run.graph, run.options);
    } catch (const steppar::Interrupted& e) {
        exit_code = e.exit_code();
        BOOST_TEST(contains(e.what(), "interrupted by SIGTERM: cancelled the Slurm jobs"));
    }
    BOOST_TEST(exit_code == 128 + SIGTERM);
    BOOST_TEST(run.slurm->of("scancel") == std::vector<std::string>{"scancel 501 502 503"});
    steppar::detail::stop_signal = 0;  // the stop was this test's: later tests start without one
}

// sbatch fails on the second job: the first, already queued, is cancelled; the error says both.
BOOST_AUTO_TEST_CASE(a_failed_submission_cancels_what_was_already_submitted) {
    SlurmRun run({});
    run.slurm->failing_sbatch = 2;
    const std::string error = steppar_test::error_of<steppar::StateError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "submitting count-barrier: 'sbatch"));
    BOOST_TEST(contains(error, "Invalid account"));
    BOOST_TEST(contains(error, "cancelled the 1 job(s) already submitted"));
    BOOST_TEST(run.slurm->of("scancel") == std::vector<std::string>{"scancel 501"});
    BOOST_TEST(run.slurm->of("squeue").empty());
}

// sbatch answers something that is not a job id: refused, and what was submitted is cancelled.
BOOST_AUTO_TEST_CASE(an_sbatch_answer_that_is_not_a_job_id_is_refused) {
    SlurmRun run({});
    run.slurm->sbatch_prints = "Submitted batch job 77\n";  // not --parsable's form
    const std::string error = steppar_test::error_of<steppar::StateError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "sbatch printed 'Submitted batch job 77\n' instead of a job id"));
    BOOST_TEST(contains(error, "nothing was submitted"));
    BOOST_TEST(run.slurm->of("sbatch").size() == 1u);
}

// A stop arriving while jobs are being submitted: no more are, and those submitted are
// cancelled (exit code 143).
BOOST_AUTO_TEST_CASE(a_stop_during_submission_cancels_what_was_submitted) {
    SlurmRun run({}, [](const FakeSlurm& fake, const std::vector<std::string>& argv) {
        if (argv.front() == "sbatch" && fake.of("sbatch").size() == 1) std::raise(SIGTERM);  // as the second sbatch starts
    });
    int exit_code = 0;
    try {
        steppar::run_on_slurm(*run.project, run.graph, run.options);
    } catch (const steppar::Interrupted& e) {
        exit_code = e.exit_code();
        BOOST_TEST(contains(e.what(), "interrupted by SIGTERM while submitting: cancelled the 2 job(s) already submitted"));
    }
    steppar::detail::stop_signal = 0;
    BOOST_TEST(exit_code == 128 + SIGTERM);
    BOOST_TEST(run.slurm->of("sbatch").size() == 2u);
    BOOST_TEST(run.slurm->of("scancel") == std::vector<std::string>{"scancel 501 502"});
}

// Arrays disabled (MaxArraySize=0): refused before any sbatch, even when a plain node's job
// would be submitted before the first array.
BOOST_AUTO_TEST_CASE(arrays_disabled_are_refused_before_anything_is_submitted) {
    SlurmRun run({}, {}, R"(
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  lower:  {type: partitioned, path: out/lower, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
nodes:
  - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lower]}
  - {name: count, func: builtin.wc, inputs: [lower], outputs: [counts], slices: 2}
)");
    run.slurm->max_array_size = "0";
    const std::string error = steppar_test::error_of<steppar::UsageError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "job arrays disabled (MaxArraySize=0)"));
    BOOST_TEST(run.slurm->of("sbatch").empty());
}

// A MaxArraySize that is not a number is an error, not 0 (atoi) nor a guess.
BOOST_AUTO_TEST_CASE(an_unreadable_max_array_size_is_an_error) {
    SlurmRun run({});
    run.slurm->max_array_size = "10k";
    const std::string error = steppar_test::error_of<steppar::StateError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "unreadable MaxArraySize"));
    BOOST_TEST(run.slurm->of("sbatch").empty());
}

// Every job COMPLETED, but slice 0's marker is slice 1's and total left none: Slurm's word is
// not proof, the run fails naming both (vouching.hpp).
BOOST_AUTO_TEST_CASE(completed_jobs_without_their_own_markers_fail_the_run) {
    SlurmRun run({{"501_0", "COMPLETED|None"}, {"501_1", "COMPLETED|None"}, {"502", "COMPLETED|None"}, {"503", "COMPLETED|None"}},
                 [](const FakeSlurm& fake, const std::vector<std::string>& argv) {
                     (void)fake;
                     (void)argv;
                 });
    const auto& state = run.project->state();
    run.options.run_program = [fake = run.slurm, &state](const std::vector<std::string>& argv, std::string_view input) {
        if (argv.front() == "squeue" && fake->of("squeue").empty()) {
            // The slices "ran": slice 1 wrote its marker, and slice 0's place holds a copy of it.
            const steppar::PlanIndex index = steppar::read_plan_index(state, "count");
            steppar::Marker m;
            m.unit = "count";
            m.slice = 1;
            m.plan_id = index.plan_id;
            m.generation = index.generation;
            m.success = true;
            steppar::write_marker(state.marker("count", 1), m);
            steppar::write_marker(state.marker("count", 0), m);
        }
        return (*fake)(argv, input);
    };
    const std::string error = steppar_test::error_of<steppar::NodeError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "count-slice-0: Slurm says its task COMPLETED, but its marker belongs to another unit, slice or plan"));
    BOOST_TEST(!contains(error, "count-slice-1"));
    BOOST_TEST(contains(error, "total: Slurm says it COMPLETED, but there is no marker"));
}

// --fail-fast: the first failed task cancels every job still queued or running, the failed
// array's other tasks included; the run fails naming the failed slice only.
BOOST_AUTO_TEST_CASE(fail_fast_cancels_everything_at_the_first_failure) {
    SlurmRun run({{"501_0", "FAILED|NonZeroExitCode"}, {"501_1", "RUNNING|None"}, {"502", "PENDING|Dependency"}, {"503", "PENDING|Dependency"}});
    run.options.fail_fast = true;
    const std::string error = steppar_test::error_of<steppar::NodeError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    BOOST_TEST(contains(error, "count-slice-0: Slurm task 501_0 FAILED"));
    BOOST_TEST(!contains(error, "count-slice-1"));
    BOOST_TEST(run.slurm->of("scancel") == std::vector<std::string>{"scancel 502 503 501"});
}

// A slice time limit (--slice-timeout, or the unit's `timeout:`) becomes the array's --time.
BOOST_AUTO_TEST_CASE(a_slice_timeout_becomes_the_arrays_time_limit) {
    SlurmRun run({{"501_0", "FAILED|NonZeroExitCode"}, {"501_1", "COMPLETED|None"}, {"502", "PENDING|Dependency"}, {"503", "PENDING|Dependency"}});
    run.options.slice_timeout = 89.5;
    steppar_test::error_of<steppar::NodeError>([&] { steppar::run_on_slurm(*run.project, run.graph, run.options); });
    const auto sbatch = run.slurm->of("sbatch");
    BOOST_REQUIRE(!sbatch.empty());
    BOOST_TEST(contains(sbatch[0], " --time=1:30 --array=0-1 "));
    BOOST_TEST(!contains(sbatch[1], "--time"));  // the barrier: not a slice
}

BOOST_AUTO_TEST_SUITE_END()
