// The four kinds of step the expanded graph holds (expand.hpp), as every part of the engine
// names them: runners, launchers, events and their sinks compare this enum, and only output
// (logs, JSON events, pictures) turns it into text.
#pragma once

namespace steppar {

enum class StepKind { slicer, slice, barrier, node };

/// "slicer", "slice", "barrier" or "node".
const char* to_string(StepKind kind);

}  // namespace steppar
