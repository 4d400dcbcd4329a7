// Actor::spawn (a child) reads its arguments as System::spawn does, with the same errors.
// expect: troupe: spawn<T>(...): T has no public constructor taking these arguments
#include <troupe/troupe.hpp>

class Account : public troupe::Actor {
 public:
  explicit Account(long balance) : balance_(balance) {}
  long on(int) { return balance_; }

 private:
  long balance_;
};

class Bank : public troupe::Actor {
 public:
  void on(int) { spawn<Account>("savings", "not a balance"); }
};

int main() {}
