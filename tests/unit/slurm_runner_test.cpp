// The Slurm runner's decisions against a fake command runner: which programs it starts (argv),
// and what it does when Slurm reports a failed task or a stop arrives. No cluster, no
// processes: sbatch, squeue, scancel and scontrol answer from the fake.
#include "support.hpp"

#include <steppar/expand.hpp>
#include <steppar/interruption.hpp>
#include <steppar/log.hpp>
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

// A pipeline folder with two inputs and a multinode of 2 slices followed by a plain node.
struct SlurmWorkspace {
    fs::path dir;
    SlurmWorkspace() {
        std::string pattern = (fs::temp_directory_path() / "steppar-slurm-unit-XXXXXX").string();
        BOOST_REQUIRE(::mkdtemp(pattern.data()));
        dir = pattern;
        fs::create_directories(dir / "docs");
        std::ofstream(dir / "docs/a.txt") << "a\n";
        std::ofstream(dir / "docs/b.txt") << "b b\n";
        std::ofstream(dir / "pipeline.yml") << "plugins: {builtin: " << STEPPAR_BUILTIN_PLUGIN << R"(}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)";
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

    steppar::ProgramResult operator()(const std::vector<std::string>& argv, std::string_view) {
        calls.push_back(argv);
        const std::string& program = argv.front();
        if (program == "scontrol") return {0, "ClusterName = fake\nMaxArraySize            = 1001\n", ""};
        if (program == "sbatch") return {0, std::to_string(next_id++) + ";fake\n", ""};
        if (program == "scancel") {
            for (std::size_t i = 1; i < argv.size(); ++i) states[argv[i]] = "CANCELLED|None";
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
                      std::function<void(const FakeSlurm&, const std::vector<std::string>&)> before = {}) {
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

BOOST_AUTO_TEST_SUITE_END()
