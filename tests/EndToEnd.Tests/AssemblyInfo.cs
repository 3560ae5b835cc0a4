// Test classes run one after another: each class fixture hosts a whole service, and Hangfire keeps process-wide state
// (GlobalConfiguration's log provider is bound to the logger factory of the host that configured it last), so two
// hosts alive at once break each other when one of them stops. One service at a time is also kinder to a 2-core CI.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
