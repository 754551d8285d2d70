// The host's side of a step's stdout/stderr pipe: splits what arrives into lines, turns framed
// lines (0x1F + JSON, from the child's reporter, see events.hpp) back into events, and passes
// everything else on as the step's `output`, all attributed to the step.
#pragma once

#include "steppar/events.hpp"

#include <string>

namespace steppar {

class ChildOutput {
public:
    ChildOutput(std::string step, std::string unit, StepKind kind, int slice)
        : step_(std::move(step)), unit_(std::move(unit)), kind_(kind), slice_(slice) {}

    /// Bytes read from the pipe, in any chunks.
    void feed(const char* data, std::size_t size);
    /// The pipe is closed (or the step ended): an unterminated last line is passed on too.
    void finish();
    /// The partitions the step last reported done (-1: it reported none).
    long long partitions_done() const noexcept { return done_; }
    /// The last error the step reported (its one-line failure message), if any.
    const std::string& error() const noexcept { return error_; }
    /// Whether the step printed or logged anything at all (progress aside).
    bool said_anything() const noexcept { return said_anything_; }

private:
    void line(std::string_view text);
    StepInfo info() const { return {step_, unit_, kind_, slice_}; }

    std::string step_, unit_;
    StepKind kind_;
    int slice_;
    std::string pending_;
    long long done_ = -1;
    std::string error_;
    bool said_anything_ = false;
};

}  // namespace steppar
