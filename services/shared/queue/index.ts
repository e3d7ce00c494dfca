// The queue: everything that knows kue (pinned at 0.11, unmaintained) lives in this folder, so a move to
// another queue touches it alone. Two entry points:
// - this one, for the processes that consume or watch the queue (the Loyalty Worker, the dashboard): it
//   loads kue;
// - transaction-job.ts, for the process that only writes jobs (the Transaction API): kue's storage layout
//   as a Lua function and the job's fields, without loading kue.
export { closeQueue, createQueue, type Job, type Queue, type QueueCounts, type QueueOptions, queueCounts, queueReady } from './kue-queue.ts'
export { consumeTransactionJobs, defineQueueCommands, type TransactionJobConsumer } from './consumer.ts'
export { backlogOf, TRANSACTION_JOB, transactionJobPolicy } from './transaction-job.ts'
