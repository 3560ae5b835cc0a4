namespace Easel.Tools;

internal static class EvalShapesCommand
{
    public static int Run(Options options) => throw new NotImplementedException();
}
