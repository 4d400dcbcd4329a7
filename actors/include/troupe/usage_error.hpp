// troupe/usage_error.hpp - UsageError: a call that breaks a system actor's contract.
#pragma once

#include "troupe/errors.hpp"

namespace troupe {

/// A call broke the contract of the object it was made on, at run time: releasing a
/// bounded Semaphore more often than it was acquired, calling `WorkQueue::task_done` more
/// often than items were put (Python raises ValueError for both). Reported through the
/// caller's future; the system actor itself carries on.
class TROUPE_API UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace troupe
