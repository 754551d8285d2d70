#include "steppar/runner.hpp"

#include "steppar/error.hpp"
#include "steppar/executor.hpp"
#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <chrono>
#include <deque>
#include <thread>

namespace steppar {
namespace {

/// Runs each step to completion inside this process, in the order it is started.
class InProcessLauncher final : public Launcher {
public:
    InProcessLauncher(Project& project, const ExpandedGraph& graph) : project_(project), graph_(graph) {}

    void start(std::size_t index) override {
        const Step& step = graph_.steps[index];
        const Unit& unit = project_.pipeline().units()[step.unit];
        try {
            if (step.kind == StepKind::slice)
                run_slice(project_, unit, step.slice);
            else
                run_node(project_, unit);
            finished_.push_back({index, true, {}});
        } catch (const Error& e) {
            finished_.push_back({index, false, e.what()});
        }
    }
    StepResult wait_any() override {
        StepResult result = finished_.front();
        finished_.pop_front();
        return result;
    }
    std::size_t running() const override { return finished_.size(); }
    std::size_t capacity() const override { return 1; }

private:
    Project& project_;
    const ExpandedGraph& graph_;
    std::deque<StepResult> finished_;
};

enum class State { waiting, running, done, failed, skipped };

}  // namespace

void run_pipeline(Project& project, const ExpandedGraph& graph, const RunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    std::unique_ptr<Launcher> launcher;
    if (options.runner == RunnerKind::sequential)
        launcher = std::make_unique<InProcessLauncher>(project, graph);
    else
        launcher = make_process_launcher(project, graph, options);

    const auto& steps = graph.steps;
    std::vector<State> state(steps.size(), State::waiting);
    std::vector<std::string> failures;
    std::vector<int> slice_counts(project.pipeline().units().size(), 0);  // as expanded
    for (const auto& step : steps)
        if (step.kind == StepKind::slice) ++slice_counts[step.unit];
    std::size_t open = steps.size();

    auto finish = [&](std::size_t i, bool ok, const std::string& message) {
        state[i] = ok ? State::done : State::failed;
        --open;
        if (!ok) {
            log(steps[i].name + " failed: " + message);
            // Slice failures are reported by their barrier, which lists all of them.
            if (steps[i].kind != StepKind::slice) failures.push_back(message);
        }
    };

    while (open > 0) {
        bool progressed = false;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (state[i] != State::waiting) continue;
            const Step& step = steps[i];
            bool ready = true, blocked = false;
            for (const auto d : step.depends_on) {
                // A barrier waits for its slices to end either way, so it can list every failure.
                const bool ended = state[d] == State::done || (step.kind == StepKind::barrier && state[d] == State::failed);
                if (state[d] == State::skipped || (state[d] == State::failed && step.kind != StepKind::barrier))
                    blocked = true;
                if (!ended) ready = false;
            }
            if (blocked) {
                state[i] = State::skipped;
                --open;
                progressed = true;
                continue;
            }
            if (!ready) continue;
            const Unit& unit = project.pipeline().units()[step.unit];
            if (step.kind == StepKind::slicer || step.kind == StepKind::barrier) {
                // Cheap bookkeeping: always in this process.
                try {
                    if (step.kind == StepKind::slicer)
                        run_slicer(project, unit, slice_counts[step.unit]);
                    else
                        check_barrier(project, unit);
                    finish(i, true, {});
                } catch (const Error& e) {
                    finish(i, false, e.what());
                }
                progressed = true;
                continue;
            }
            if (launcher->running() >= launcher->capacity()) continue;
            state[i] = State::running;
            launcher->start(i);
            progressed = true;
        }
        if (launcher->running() > 0) {
            const StepResult result = launcher->wait_any();
            finish(result.step, result.ok, result.message);
        } else if (!progressed) {
            break;  // nothing runs and nothing can start: only skipped steps remain
        }
    }

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!failures.empty()) {
        std::size_t skipped = 0;
        for (const auto s : state) skipped += s == State::skipped;
        throw NodeError(join(failures, "; ") +
                        (skipped ? " (" + std::to_string(skipped) + " dependent step(s) not run)" : std::string()));
    }
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", seconds);
    log("pipeline done: " + std::to_string(steps.size()) + " steps in " + took + " s");
}

}  // namespace steppar
