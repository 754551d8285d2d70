#include "steppar/step_kind.hpp"

namespace steppar {

const char* to_string(StepKind kind) {
    switch (kind) {
        case StepKind::slicer: return "slicer";
        case StepKind::slice: return "slice";
        case StepKind::barrier: return "barrier";
        case StepKind::node: return "node";
    }
    return "?";
}

}  // namespace steppar
