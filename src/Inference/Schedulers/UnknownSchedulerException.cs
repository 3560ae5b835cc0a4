namespace Easel.Inference.Schedulers;

/// <summary>A request named a scheduler the registry does not know; the message lists the known names.</summary>
public sealed class UnknownSchedulerException(string message) : ArgumentException(message);
