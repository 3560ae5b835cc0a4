using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Easel.Core.Webhooks;

/// <summary>
/// Wakes this process's outbox dispatcher as soon as a commit has made a delivery due, so that the first attempt starts
/// right after the change it reports instead of at the next poll. Other processes find the row by polling.
/// </summary>
public sealed class WebhookOutboxSignal
{
    private readonly SemaphoreSlim _due = new(0, 1);

    public void Notify()
    {
        try
        {
            if (_due.CurrentCount == 0)
                _due.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one wake-up covers every row committed before the dispatcher looks.
        }
    }

    /// <summary>Waits for <see cref="Notify"/> or the timeout; true when signalled.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _due.WaitAsync(timeout, cancellationToken);
}

/// <summary>
/// Signals <see cref="WebhookOutboxSignal"/> after every successful commit that added or re-armed a pending
/// <see cref="WebhookDelivery"/> (JobEventLog rows, redeliveries), whoever wrote it: no caller has to remember to.
/// Inside an explicit transaction the signal waits for its commit.
/// </summary>
public sealed class WebhookOutboxInterceptor(WebhookOutboxSignal signal) : SaveChangesInterceptor, IDbTransactionInterceptor
{
    private static readonly object Marker = new();
    private readonly ConditionalWeakTable<DbContext, object> _pending = new();

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Mark(eventData.Context);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Mark(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData) => Forget(eventData.Context);

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Committed(eventData.Context);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Forget(eventData.Context);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    private void Mark(DbContext? context)
    {
        if (context is null)
            return;
        var due = context.ChangeTracker.Entries<WebhookDelivery>().Any(e =>
            e.State is EntityState.Added or EntityState.Modified && e.Entity.Status == WebhookDeliveryStatus.Pending);
        if (due)
            _pending.AddOrUpdate(context, Marker);
    }

    private void Saved(DbContext? context)
    {
        if (context is not null && context.Database.CurrentTransaction is null)
            Committed(context);
    }

    private void Committed(DbContext? context)
    {
        if (context is not null && _pending.Remove(context))
            signal.Notify();
    }

    private void Forget(DbContext? context)
    {
        if (context is not null)
            _pending.Remove(context);
    }
}
