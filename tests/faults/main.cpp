// The fault-injection test runner (the only file of this binary that builds Boost.Test's main).
#define BOOST_TEST_MODULE steppar fault-injection tests
#include <boost/test/unit_test.hpp>
