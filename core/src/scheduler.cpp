#include "steppar/scheduler.hpp"

#include "steppar/error.hpp"
#include "steppar/interruption.hpp"
#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <chrono>

namespace steppar {
namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

Scheduler::Scheduler(const ExpandedGraph& graph, std::vector<std::string> unit_names, std::vector<StepPolicy> policies,
                     Launcher& launcher, StepActions& actions, bool fail_fast)
    : graph_(graph), unit_names_(std::move(unit_names)), policies_(std::move(policies)), launcher_(launcher), actions_(actions),
      fail_fast_(fail_fast) {
    const std::size_t n = graph_.steps.size();
    if (policies_.size() != n) throw std::logic_error("Scheduler: one policy per step expected");
    dependents_.resize(n);
    waiting_for_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        waiting_for_[i] = graph_.steps[i].depends_on.size();
        for (const std::size_t d : graph_.steps[i].depends_on) dependents_[d].push_back(i);
        if (waiting_for_[i] == 0) ready_.insert(i);
    }
    state_.assign(n, State::waiting);
    attempts_.assign(n, 0);
    began_.assign(n, 0);
    open_ = n;
}

StepInfo Scheduler::info(std::size_t i) const {
    const Step& step = graph_.steps[i];
    return StepInfo{step.name, unit_names_.at(step.unit), step.kind, step.slice};
}

double Scheduler::seconds_since_start(std::size_t i) const { return now() - began_[i]; }

// A slice that needs N cores (resources: {cpus: N}) counts as N of --max-workers; one that
// asks for more than there are gets them all rather than never running.
std::size_t Scheduler::cores(std::size_t i) const {
    const int wanted = policies_[i].cpus;
    return std::clamp<std::size_t>(wanted > 0 ? static_cast<std::size_t>(wanted) : 1, 1, launcher_.capacity());
}

void Scheduler::finish(std::size_t i, State result) {
    state_[i] = result;
    --open_;
    if (result == State::done) release_dependents(i);
    else block_dependents(i);
}

// A barrier waits for its slices to end either way, so that it can list every failure.
void Scheduler::release_dependents(std::size_t i) {
    for (const std::size_t d : dependents_[i])
        if (state_[d] == State::waiting && --waiting_for_[d] == 0) ready_.insert(d);
}

// Everything downstream of a step that failed or was skipped is skipped, except a barrier,
// whose join counter counts a failed slice as ended. A work list, not recursion: a chain of
// 100,000 steps must not overflow the stack.
void Scheduler::block_dependents(std::size_t i) {
    std::vector<std::size_t> blocked{i};
    while (!blocked.empty()) {
        const std::size_t s = blocked.back();
        blocked.pop_back();
        const bool failed = state_[s] == State::failed;
        for (const std::size_t d : dependents_[s]) {
            if (state_[d] != State::waiting) continue;
            if (failed && graph_.steps[d].kind == StepKind::barrier) {
                if (--waiting_for_[d] == 0) ready_.insert(d);
            } else {
                state_[d] = State::skipped;
                --open_;
                blocked.push_back(d);
            }
        }
    }
}

void Scheduler::skip_every_waiting_step() {
    for (std::size_t i = 0; i < state_.size(); ++i)
        if (state_[i] == State::waiting) finish(i, State::skipped);
}

void Scheduler::fail(std::size_t i, const std::string& message, const StepResult* ended) {
    finish(i, State::failed);
    ++tally_->failed;
    const int attempt = std::max(attempts_[i], 1);  // a slicer, a barrier or a failed freshness check has no launches
    StepEnd end{StepStatus::failed, seconds_since_start(i), -1, message, attempt, attempt};
    if (ended) {
        end.wait_status = ended->wait_status;
        end.pid = ended->pid;
    }
    events().step_ended(info(i), end);
    // Slice failures are reported by their barrier, which lists all of them, unless fail-fast
    // stops the run before the barrier.
    if (graph_.steps[i].kind != StepKind::slice || fail_fast_) failures_.push_back(message);
    if (fail_fast_ && !stopping_) {
        stopping_ = true;
        if (launcher_.running() > 0) warn("--fail-fast: stopping " + std::to_string(launcher_.running()) + " running step(s)");
        launcher_.stop_all();
        skip_every_waiting_step();
    }
}

// Ended by a stop request, without failing: what it did is kept for the rerun.
void Scheduler::stop(std::size_t i, const std::string& message, const StepResult* ended) {
    finish(i, State::skipped);
    const int attempt = std::max(attempts_[i], 1);  // a slicer or barrier has no launches
    StepEnd end{StepStatus::stopped, seconds_since_start(i), -1, message, attempt, attempt};
    if (ended) {
        end.wait_status = ended->wait_status;
        end.pid = ended->pid;
    }
    events().step_ended(info(i), end);
}

bool Scheduler::try_step(std::size_t i) {
    const Step& step = graph_.steps[i];
    if (!policies_[i].chosen) {  // not selected: its outputs are taken as they are
        finish(i, State::done);
        return true;
    }
    if (step.kind == StepKind::slicer || step.kind == StepKind::barrier) {
        began_[i] = now();
        events().step_started(info(i), -1);
        try {
            actions_.run_host_step(i);
            finish(i, State::done);
            events().step_ended(info(i), {StepStatus::done, seconds_since_start(i), -1, {}, 1, 1});
        } catch (const Interrupted& e) {  // stopped at an interruption point
            stop(i, e.what());
        } catch (const UserError&) {
            throw;  // bad input (e.g. strict zipping): stop, like validation
        } catch (const Error& e) {
            fail(i, e.what());
        }
        return true;
    }
    if (launcher_.running() > 0 && busy_ + cores(i) > launcher_.capacity()) return false;
    WorkDecision decision;  // a retry always runs
    if (attempts_[i] == 0) {
        try {
            decision = actions_.decide(i);
        } catch (const Interrupted& e) {
            began_[i] = now();
            stop(i, e.what());
            return true;
        } catch (const UserError&) {
            throw;
        } catch (const Error& e) {
            began_[i] = now();
            fail(i, e.what());
            return true;
        }
    }
    if (!decision.work) {
        ++tally_->up_to_date;
        finish(i, State::done);
        events().step_ended(info(i), {StepStatus::up_to_date, 0, actions_.partitions(i), decision.skipped, 1, 1});
        return true;
    }
    launch(i);
    return true;
}

void Scheduler::launch(std::size_t i) {
    state_[i] = State::running;
    ++attempts_[i];
    ++tally_->ran;
    began_[i] = now();
    events().step_started(info(i), actions_.partitions(i));
    launcher_.start(i, policies_[i].timeout);
    busy_ += cores(i);
}

void Scheduler::handle(StepResult result) {
    const std::size_t i = result.step;
    busy_ -= cores(i);
    Confirmation confirmed;
    if (result.ok && !result.stopped) {
        // Exit code 0 is not success: the step must have said so itself.
        if (std::string missing = actions_.confirm(i, confirmed); !missing.empty()) {
            result.ok = false;
            result.message = std::move(missing);
        }
    }
    if (!result.ok) actions_.clean_after_failure(i);
    if (result.ok) {
        finish(i, State::done);
        const long long partitions = graph_.steps[i].kind == StepKind::slice ? actions_.partitions(i) : result.partitions;
        StepEnd end{StepStatus::done, seconds_since_start(i), partitions, {}, attempts_[i], attempts_[i]};
        end.metrics = &confirmed.metrics;
        end.skipped = confirmed.skipped;
        end.wait_status = result.wait_status;
        end.pid = result.pid;
        events().step_ended(info(i), end);
    } else if (result.stopped || launcher_.interrupted_by()) {
        stop(i, result.message, &result);
    } else if (attempts_[i] <= policies_[i].retries && !stopping_) {
        StepEnd end{StepStatus::retrying, seconds_since_start(i), -1, result.message, attempts_[i], policies_[i].retries + 1};
        end.wait_status = result.wait_status;
        end.pid = result.pid;
        events().step_ended(info(i), end);
        state_[i] = State::waiting;
        ready_.insert(i);
    } else {
        fail(i, result.message, &result);
    }
}

void Scheduler::run(RunTally& tally) {
    tally_ = &tally;
    while (open_ > 0) {
        bool progressed = false;
        // Steps made ready on the way (always later in graph order) are met in the same pass.
        for (auto it = ready_.begin(); it != ready_.end() && !launcher_.interrupted_by();) {
            const std::size_t i = *it;
            if (state_[i] != State::waiting) {  // skipped by fail-fast meanwhile
                it = ready_.erase(it);
                continue;
            }
            if (!try_step(i)) {
                ++it;  // waits for cores; a later, smaller step may still start
                continue;
            }
            it = ready_.erase(it);
            progressed = true;
        }
        if (launcher_.running() > 0) {
            if (auto result = launcher_.wait_any()) handle(std::move(*result));
            // else a signal: the launcher is stopping its steps, which still end through wait_any()
        } else if (launcher_.interrupted_by() || !progressed) {
            break;  // nothing runs and nothing can start
        }
    }

    for (std::size_t i = 0; i < state_.size(); ++i) {
        // Unselected slices are "done" only in that what they made is taken as it is.
        tally.slices_done += state_[i] == State::done && graph_.steps[i].kind == StepKind::slice && policies_[i].chosen;
        tally.not_run += state_[i] == State::skipped || state_[i] == State::waiting;
    }
    if (const int signal = launcher_.interrupted_by()) {
        throw Interrupted("interrupted by " + signal_name(signal) + ": " + std::to_string(tally.slices_done) +
                              " slice(s) finished and are kept; rerun the same command to resume",
                          signal);
    }
    if (!failures_.empty())
        throw NodeError(join(failures_, "; ") +
                        (tally.not_run ? " (" + std::to_string(tally.not_run) + " dependent step(s) not run)" : std::string()));
}

}  // namespace steppar
