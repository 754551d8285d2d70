#include "node_context.hpp"

#include "steppar/events.hpp"
#include "steppar/log.hpp"

namespace steppar {

void node_log(LogLevel level, std::string_view text, std::string_view node, std::string_view partition) {
    if (level == LogLevel::info && quiet()) return;
    Message m;
    m.level = level == LogLevel::warning ? Level::warning : Level::info;
    m.origin = Origin::node;
    m.text = text;
    m.node = node;
    m.partition = partition;
    events().message(m);
}

std::string describe_failure(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception (not derived from std::exception)";
    }
}

std::string call_partition_function(const BoundNode& bound, const std::string& partition, const Chosen& chosen, FileStamp* stamps) {
    try {
        PartitionCall call(bound, partition, chosen);
        bound.function.partition_function(call);
        call.commit();
        if (stamps) call.stamps(stamps);
        return {};
    } catch (...) {
        return describe_failure(std::current_exception());
    }
}

}  // namespace steppar
