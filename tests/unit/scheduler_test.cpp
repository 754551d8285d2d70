// The scheduler's decisions against a fake launcher and fake actions: which steps start, in
// which order, how many at once, and what retries, failures, fail-fast and interrupts do to the
// rest of the graph. No process, no file, no clock.
#include "support.hpp"

#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/interruption.hpp>
#include <steppar/scheduler.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace steppar;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

// Builds a graph the way expand() lays it out; units are named u0, u1...
struct GraphBuilder {
    ExpandedGraph graph;
    std::vector<std::string> units;

    // slicer, slices, barrier; returns the barrier's index.
    std::size_t multinode(int slices, std::vector<std::size_t> after = {}) {
        const std::size_t unit = units.size();
        units.push_back("u" + std::to_string(unit));
        const std::size_t slicer = add(StepKind::slicer, slicer_name(units.back()), unit, -1, std::move(after));
        std::vector<std::size_t> slice_steps;
        for (int s = 0; s < slices; ++s) slice_steps.push_back(add(StepKind::slice, slice_name(units.back(), s), unit, s, {slicer}));
        return add(StepKind::barrier, barrier_name(units.back()), unit, -1, slice_steps);
    }
    std::size_t node(std::vector<std::size_t> after = {}) {
        const std::size_t unit = units.size();
        units.push_back("u" + std::to_string(unit));
        return add(StepKind::node, units.back(), unit, -1, std::move(after));
    }
    std::size_t add(StepKind kind, std::string name, std::size_t unit, int slice, std::vector<std::size_t> after) {
        graph.steps.push_back(Step{kind, std::move(name), unit, slice, std::move(after)});
        return graph.steps.size() - 1;
    }
};

enum class Outcome { ok, fail, hang };  // hang: runs until stopped

struct FakeLauncher final : Launcher {
    std::size_t cores = 2;
    std::map<std::size_t, std::deque<Outcome>> script;  // per step, one per launch (default ok)
    std::map<std::size_t, int> cpus;                     // to check the cores in use
    int signal_after_ends = -1;  // a stop signal arrives when this many steps have ended
    int signal = 0;

    std::vector<std::size_t> started;
    std::map<std::size_t, double> timeouts;
    std::deque<std::pair<std::size_t, Outcome>> live;
    std::size_t peak_running = 0, peak_cores = 0;
    int ends = 0, stop_calls = 0;

    void start(std::size_t step, double timeout) override {
        started.push_back(step);
        timeouts[step] = timeout;
        auto& outcomes = script[step];
        const Outcome outcome = outcomes.empty() ? Outcome::ok : outcomes.front();
        if (!outcomes.empty()) outcomes.pop_front();
        live.emplace_back(step, outcome);
        peak_running = std::max(peak_running, live.size());
        std::size_t in_use = 0;
        for (const auto& [s, _] : live) in_use += std::min<std::size_t>(cpus.count(s) ? cpus[s] : 1, cores);
        peak_cores = std::max(peak_cores, in_use);
    }
    std::optional<StepResult> wait_any() override {
        if (signal == 0 && signal_after_ends >= 0 && ends >= signal_after_ends) {
            signal = SIGTERM;
            stop_all();  // what the process launcher does on a signal
            return std::nullopt;
        }
        // The first started that is not hanging ends first; hanging ones end once stopped.
        auto it = std::find_if(live.begin(), live.end(), [](const auto& l) { return l.second != Outcome::hang; });
        if (it == live.end()) {
            BOOST_REQUIRE_MESSAGE(stop_calls > 0, "every running step hangs and nobody stopped them");
            it = live.begin();
        }
        const auto [step, outcome] = *it;
        live.erase(it);
        ++ends;
        if (outcome == Outcome::hang) return StepResult{step, false, true, "stopped", -1};
        if (outcome == Outcome::fail) return StepResult{step, false, false, "step " + std::to_string(step) + " broke", -1};
        return StepResult{step, true, false, {}, 7};
    }
    std::size_t running() const override { return live.size(); }
    std::size_t capacity() const override { return cores; }
    void stop_all() override {
        ++stop_calls;
        for (auto& l : live) l.second = Outcome::hang;  // every one ends as stopped
    }
    int interrupted_by() const override { return signal; }
};

struct FakeActions final : StepActions {
    std::map<std::size_t, std::function<void()>> host;  // what a slicer or barrier does (default: nothing)
    std::set<std::size_t> up_to_date;
    std::map<std::size_t, std::string> skip_reason;
    std::map<std::size_t, std::deque<std::string>> unconfirmed;  // per step, per confirm: "" or why not
    std::vector<std::size_t> host_ran, decided, cleaned;

    void run_host_step(std::size_t step) override {
        host_ran.push_back(step);
        if (host.count(step)) host[step]();
    }
    WorkDecision decide(std::size_t step) override {
        decided.push_back(step);
        return {!up_to_date.count(step), skip_reason.count(step) ? skip_reason[step] : ""};
    }
    long long partitions(std::size_t) override { return 3; }
    std::string confirm(std::size_t step, Confirmation& confirmation) override {
        auto& answers = unconfirmed[step];
        if (!answers.empty()) {
            std::string answer = answers.front();
            answers.pop_front();
            if (!answer.empty()) return answer;
        }
        confirmation.metrics["rows"] = 10;
        return {};
    }
    void clean_after_failure(std::size_t step) override { cleaned.push_back(step); }
};

// Every step event as a line: "start u0-slice-1", "end u0-slice-1 retrying 1/2 step 2 broke".
struct RecordingSink final : EventSink {
    std::vector<std::string> lines;
    void message(const Message& m) override { lines.push_back(std::string("message ") + std::string(m.text)); }
    void step_started(const StepInfo& step, long long) override { lines.push_back("start " + std::string(step.name)); }
    void step_ended(const StepInfo& step, const StepEnd& end) override {
        std::string line = "end " + std::string(step.name) + " " + status_name(end.status) + " " + std::to_string(end.attempt) + "/" +
                           std::to_string(end.max_attempts);
        if (!end.message.empty()) line += " " + std::string(end.message);
        if (end.metrics && end.metrics->count("rows")) line += " rows=" + std::to_string(end.metrics->at("rows"));
        lines.push_back(line);
    }
    void error(std::string_view, int) override {}
};

// Runs a scheduler over the builder's graph, recording the events until it goes.
struct Run {
    GraphBuilder& g;
    FakeLauncher launcher;
    FakeActions actions;
    std::vector<StepPolicy> policies;
    bool fail_fast = false;
    RunTally tally;
    RecordingSink* sink = nullptr;
    std::unique_ptr<EventSink> previous;

    explicit Run(GraphBuilder& builder) : g(builder), policies(builder.graph.steps.size()) {
        auto recording = std::make_unique<RecordingSink>();
        sink = recording.get();
        previous = set_events(std::move(recording));
    }
    ~Run() { set_events(std::move(previous)); }

    void operator()() {
        Scheduler scheduler(g.graph, g.units, policies, launcher, actions, fail_fast);
        scheduler.run(tally);
    }
    std::vector<std::string> events() const { return sink->lines; }
    std::size_t position(const std::string& line) const {
        const auto& lines = sink->lines;
        const auto it = std::find(lines.begin(), lines.end(), line);
        BOOST_TEST_INFO("looking for \"" << line << "\"");
        BOOST_REQUIRE(it != lines.end());
        return static_cast<std::size_t>(it - lines.begin());
    }
    bool saw(const std::string& line) const { return std::count(sink->lines.begin(), sink->lines.end(), line) > 0; }
    bool started(std::size_t step) const {
        return std::count(launcher.started.begin(), launcher.started.end(), step) > 0;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(scheduler)

BOOST_AUTO_TEST_CASE(ready_steps_start_in_graph_order_and_never_more_than_max_workers) {
    GraphBuilder g;
    const std::size_t barrier = g.multinode(4);  // steps 0..5
    const std::size_t after = g.node({barrier});  // 6
    Run run(g);
    run.launcher.cores = 2;
    run.policies[after].timeout = 30;
    run();
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{1, 2, 3, 4, after}), boost::test_tools::per_element());
    BOOST_TEST(run.launcher.peak_running == 2u);
    BOOST_TEST(run.launcher.timeouts[after] == 30);
    BOOST_TEST(run.actions.host_ran == (std::vector<std::size_t>{0, barrier}), boost::test_tools::per_element());
    // The barrier runs after every slice ended, and what follows it after the barrier.
    for (int s = 0; s < 4; ++s) BOOST_TEST(run.position("end u0-slice-" + std::to_string(s) + " done 1/1 rows=10") < run.position("start u0-barrier"));
    BOOST_TEST(run.position("end u0-barrier done 1/1") < run.position("start u1"));
    BOOST_TEST(run.tally.ran == 5u);
    BOOST_TEST(run.tally.slices_done == 4u);
    BOOST_TEST(run.tally.not_run == 0u);
}

BOOST_AUTO_TEST_CASE(one_worker_runs_independent_branches_one_after_another) {
    GraphBuilder g;
    const std::size_t a = g.node(), b = g.node(), c = g.node({a, b});
    Run run(g);
    run.launcher.cores = 1;
    run();
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{a, b, c}), boost::test_tools::per_element());
    BOOST_TEST(run.launcher.peak_running == 1u);
}

BOOST_AUTO_TEST_CASE(a_step_counts_its_cpus_against_max_workers_and_smaller_steps_fill_the_gap) {
    GraphBuilder g;
    const std::size_t a = g.node(), big = g.node(), c = g.node(), huge = g.node();
    Run run(g);
    run.launcher.cores = 2;
    run.policies[big].cpus = run.launcher.cpus[big] = 2;
    run.policies[huge].cpus = run.launcher.cpus[huge] = 16;  // more than there are: all of them
    run();
    // a runs; big (2 cores) must wait, c (1) fills the second core; then big alone, huge alone.
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{a, c, big, huge}), boost::test_tools::per_element());
    BOOST_TEST(run.launcher.peak_cores == 2u);
    BOOST_TEST(run.tally.ran == 4u);
}

BOOST_AUTO_TEST_CASE(a_failed_launch_is_retried_up_to_its_retries_then_fails) {
    GraphBuilder g;
    const std::size_t flaky = g.node(), broken = g.node();
    Run run(g);
    run.launcher.script[flaky] = {Outcome::fail};
    run.launcher.script[broken] = {Outcome::fail, Outcome::fail, Outcome::fail};
    run.policies[flaky].retries = 1;
    run.policies[broken].retries = 2;
    const std::string error = error_of<NodeError>([&] { run(); });
    BOOST_TEST(error == "step 1 broke");
    BOOST_TEST(run.saw("end u0 retrying 1/2 step 0 broke"));
    BOOST_TEST(run.saw("end u0 done 2/2 rows=10"));
    BOOST_TEST(run.saw("end u1 retrying 1/3 step 1 broke"));
    BOOST_TEST(run.saw("end u1 retrying 2/3 step 1 broke"));
    BOOST_TEST(run.saw("end u1 failed 3/3 step 1 broke"));
    BOOST_TEST(run.tally.ran == 5u);
    BOOST_TEST(run.tally.failed == 1u);
    // Only a retry skips the "is there work" question.
    BOOST_TEST(run.actions.decided == (std::vector<std::size_t>{flaky, broken}), boost::test_tools::per_element());
    BOOST_TEST(run.actions.cleaned == (std::vector<std::size_t>{flaky, broken, broken, broken}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(exit_code_zero_without_a_success_marker_is_a_failure) {
    GraphBuilder g;
    const std::size_t node = g.node();
    const std::size_t after = g.node({node});
    Run run(g);
    run.actions.unconfirmed[node] = {"u0 ended (exit code 0) without reporting success"};
    const std::string error = error_of<NodeError>([&] { run(); });
    BOOST_TEST(error == "u0 ended (exit code 0) without reporting success (1 dependent step(s) not run)");
    BOOST_TEST(run.actions.cleaned == (std::vector<std::size_t>{node}), boost::test_tools::per_element());
    BOOST_TEST(!run.started(after));
    // With a retry, the second launch's marker is there.
    Run again(g);
    again.actions.unconfirmed[node] = {"no marker", ""};
    again.policies[node].retries = 1;
    again();
    BOOST_TEST(again.saw("end u0 retrying 1/2 no marker"));
    BOOST_TEST(again.started(after));
}

BOOST_AUTO_TEST_CASE(a_failed_slice_blocks_only_what_depends_on_it_and_its_barrier_reports_it) {
    GraphBuilder g;
    const std::size_t barrier = g.multinode(3);       // 0..4
    const std::size_t downstream = g.node({barrier});  // 5
    const std::size_t further = g.node({downstream});  // 6
    const std::size_t independent = g.node();          // 7
    Run run(g);
    run.launcher.script[2] = {Outcome::fail};  // u0-slice-1
    run.actions.host[barrier] = [] { throw NodeError("u0: slice 1 failed on partition 'b': step 2 broke"); };
    const std::string error = error_of<NodeError>([&] { run(); });
    // The slice's own failure is not listed twice: its barrier, which waited for all three, says it.
    BOOST_TEST(error == "u0: slice 1 failed on partition 'b': step 2 broke (2 dependent step(s) not run)");
    BOOST_TEST(run.started(1));
    BOOST_TEST(run.started(3));
    BOOST_TEST(run.started(independent));
    BOOST_TEST(!run.started(downstream));
    BOOST_TEST(!run.started(further));
    BOOST_TEST(run.saw("end u0-slice-1 failed 1/1 step 2 broke"));
    BOOST_TEST(run.tally.failed == 2u);  // the slice and the barrier
    BOOST_TEST(run.tally.not_run == 2u);
    BOOST_TEST(run.tally.slices_done == 2u);
    BOOST_TEST(run.launcher.stop_calls == 0);
}

BOOST_AUTO_TEST_CASE(a_failure_at_the_head_of_a_long_chain_blocks_all_of_it) {
    GraphBuilder g;
    const std::size_t head = g.node();
    std::size_t last = head;
    for (int i = 0; i < 300000; ++i) last = g.node({last});  // deeper than a stack of recursive calls goes
    Run run(g);
    run.launcher.script[head] = {Outcome::fail};
    const std::string error = error_of<NodeError>([&] { run(); });
    BOOST_TEST(error == "step 0 broke (300000 dependent step(s) not run)");
    BOOST_TEST(run.launcher.started.size() == 1u);
}

BOOST_AUTO_TEST_CASE(fail_fast_stops_running_steps_and_starts_nothing_new) {
    GraphBuilder g;
    const std::size_t barrier = g.multinode(4);  // 0..5
    g.node({barrier});                           // 6
    Run run(g);
    run.fail_fast = true;
    run.launcher.cores = 2;
    run.launcher.script[1] = {Outcome::fail};
    run.launcher.script[2] = {Outcome::hang};
    run.policies[2].retries = 3;  // a stopped step is not retried
    const std::string error = error_of<NodeError>([&] { run(); });
    BOOST_TEST(error == "step 1 broke (5 dependent step(s) not run)");
    BOOST_TEST(run.launcher.stop_calls == 1);
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{1, 2}), boost::test_tools::per_element());
    BOOST_TEST(run.saw("message --fail-fast: stopping 1 running step(s)"));
    BOOST_TEST(run.saw("end u0-slice-1 stopped 1/1 stopped"));
    BOOST_TEST(std::count(run.actions.host_ran.begin(), run.actions.host_ran.end(), barrier) == 0);
    BOOST_TEST(run.tally.failed == 1u);
}

// Fail-fast acts on a step's final failure, not on an attempt that is retried: a transient
// failure retried to success stops nothing; retries used up stop the other running steps, once.
BOOST_AUTO_TEST_CASE(fail_fast_waits_for_a_steps_retries_before_stopping_the_others) {
    GraphBuilder g;
    const std::size_t flaky = g.node();    // fails once, then succeeds
    const std::size_t broken = g.node();   // fails on every attempt
    const std::size_t sleeper = g.node();  // runs until stopped
    Run run(g);
    run.fail_fast = true;
    run.launcher.cores = 3;
    run.launcher.script[flaky] = {Outcome::fail, Outcome::ok};
    run.launcher.script[broken] = {Outcome::fail, Outcome::fail, Outcome::fail};
    run.launcher.script[sleeper] = {Outcome::hang};
    run.policies[flaky].retries = 2;
    run.policies[broken].retries = 2;
    const std::string error = error_of<NodeError>([&] { run(); });
    BOOST_TEST(contains(error, "step 1 broke"));
    BOOST_TEST(run.saw("end u0 retrying 1/3 step 0 broke"));
    BOOST_TEST(run.saw("end u0 done 2/2 rows=10"));
    BOOST_TEST(run.saw("end u1 retrying 1/3 step 1 broke"));
    BOOST_TEST(run.saw("end u1 retrying 2/3 step 1 broke"));
    BOOST_TEST(run.saw("end u1 failed 3/3 step 1 broke"));
    BOOST_TEST(run.saw("end u2 stopped 1/1 stopped"));
    // The sleeper was stopped after broken's last attempt, not at a retry.
    BOOST_TEST(run.position("end u2 stopped 1/1 stopped") > run.position("end u1 failed 3/3 step 1 broke"));
    BOOST_TEST(run.launcher.stop_calls == 1);
    BOOST_TEST(std::count(run.launcher.started.begin(), run.launcher.started.end(), broken) == 3);
    BOOST_TEST(run.tally.failed == 1u);
}

BOOST_AUTO_TEST_CASE(an_interrupt_starts_nothing_new_and_keeps_what_finished) {
    GraphBuilder g;
    const std::size_t barrier = g.multinode(4);  // 0..5
    g.node({barrier});
    Run run(g);
    run.launcher.cores = 2;
    run.launcher.signal_after_ends = 1;  // after slice 0 ended, while slice 1 runs
    int exit_code = 0;
    try {
        run();
        BOOST_ERROR("no Interrupted thrown");
    } catch (const Interrupted& e) {
        BOOST_TEST(e.what() == std::string("interrupted by SIGTERM: 1 slice(s) finished and are kept; rerun the same command to resume"));
        exit_code = e.exit_code();
    }
    BOOST_TEST(exit_code == 128 + SIGTERM);
    // slice 2 was started when slice 0 ended, before the signal; nothing after it.
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{1, 2, 3}), boost::test_tools::per_element());
    BOOST_TEST(run.saw("end u0-slice-1 stopped 1/1 stopped"));
    BOOST_TEST(run.saw("end u0-slice-2 stopped 1/1 stopped"));
    BOOST_TEST(run.tally.slices_done == 1u);
    BOOST_TEST(run.tally.not_run == 5u);  // two stopped slices, slice 3, the barrier, the node
}

BOOST_AUTO_TEST_CASE(an_interrupt_counts_only_the_selected_slices_that_finished) {
    GraphBuilder g;
    const std::size_t first = g.multinode(2);  // 0..3, not selected
    g.multinode(2, {first});                   // 4..7
    Run run(g);
    for (std::size_t i = 0; i <= first; ++i) run.policies[i].chosen = false;
    run.launcher.signal_after_ends = 1;
    const std::string error = error_of<Interrupted>([&] { run(); });
    BOOST_TEST(contains(error, "interrupted by SIGTERM: 1 slice(s) finished and are kept"));
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{5, 6}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_host_step_stopped_by_an_interrupt_is_not_a_failure) {
    GraphBuilder g;
    g.multinode(2);
    Run run(g);
    run.actions.host[0] = [&] {
        run.launcher.signal = SIGINT;
        throw Interrupted("interrupted while listing partitions", SIGINT);
    };
    const std::string error = error_of<Interrupted>([&] { run(); });
    BOOST_TEST(contains(error, "interrupted by SIGINT: 0 slice(s) finished"));
    BOOST_TEST(run.saw("end u0-slicer stopped 1/1 interrupted while listing partitions"));
    BOOST_TEST(run.tally.failed == 0u);
    BOOST_TEST(run.launcher.started.empty());
}

BOOST_AUTO_TEST_CASE(up_to_date_and_unselected_steps_are_not_launched) {
    GraphBuilder g;
    const std::size_t barrier = g.multinode(2);     // 0..3
    const std::size_t unselected = g.node({barrier});  // 4
    const std::size_t after = g.node({unselected});    // 5
    Run run(g);
    run.actions.up_to_date = {1};
    run.actions.skip_reason[1] = "nothing to run";
    run.policies[unselected].chosen = false;
    run();
    BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{2, after}), boost::test_tools::per_element());
    BOOST_TEST(run.saw("end u0-slice-0 up_to_date 1/1 nothing to run"));
    BOOST_TEST(!run.saw("start u1"));  // an unselected step says nothing
    BOOST_TEST(run.tally.up_to_date == 1u);
    BOOST_TEST(run.tally.ran == 2u);
}

BOOST_AUTO_TEST_CASE(bad_input_in_a_host_step_stops_the_run_and_an_error_fails_only_its_unit) {
    {
        GraphBuilder g;
        g.multinode(2);
        Run run(g);
        run.actions.host[0] = [] { throw InputError("inputs 'a' and 'b' do not zip: 'x' is only in 'a'"); };
        const std::string error = error_of<InputError>([&] { run(); });
        BOOST_TEST(contains(error, "do not zip"));
    }
    {
        GraphBuilder g;
        const std::size_t first = g.multinode(2);  // 0..3
        const std::size_t other = g.node();        // 4
        g.node({first});                           // 5
        Run run(g);
        run.actions.host[0] = [] { throw StateError("cannot write the plan"); };
        const std::string error = error_of<NodeError>([&] { run(); });
        BOOST_TEST(error == "cannot write the plan (4 dependent step(s) not run)");
        BOOST_TEST(run.launcher.started == (std::vector<std::size_t>{other}), boost::test_tools::per_element());
        BOOST_TEST(run.saw("end u0-slicer failed 1/1 cannot write the plan"));
    }
}

BOOST_AUTO_TEST_CASE(a_failing_freshness_check_fails_the_step) {
    GraphBuilder g;
    g.node();
    Run run(g);
    struct Throwing final : StepActions {
        void run_host_step(std::size_t) override {}
        WorkDecision decide(std::size_t) override { throw StateError("damaged ledger"); }
        long long partitions(std::size_t) override { return -1; }
        std::string confirm(std::size_t, Confirmation&) override { return {}; }
        void clean_after_failure(std::size_t) override {}
    } actions;
    Scheduler scheduler(g.graph, g.units, run.policies, run.launcher, actions, false);
    const std::string error = error_of<NodeError>([&] { scheduler.run(run.tally); });
    BOOST_TEST(error == "damaged ledger");
    BOOST_TEST(run.tally.failed == 1u);
    BOOST_TEST(run.launcher.started.empty());
    BOOST_TEST(run.saw("end u0 failed 1/1 damaged ledger"));
}

BOOST_AUTO_TEST_SUITE_END()
