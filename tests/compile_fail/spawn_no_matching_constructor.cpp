// Arguments the actor has no constructor for: the first error says so, not 50 lines in.
// expect: troupe: spawn<T>(...): T has no public constructor taking these arguments
#include <troupe/troupe.hpp>

class Account : public troupe::Actor {
 public:
  explicit Account(long balance) : balance_(balance) {}
  long on(int) { return balance_; }

 private:
  long balance_;
};

int main() {
  troupe::System system;
  auto account = system.spawn<Account>(1000L, 2000L);
}
