using System.Text;

namespace Mesh.Cli.Output;

/// <summary>Columns aligned with spaces, headers in capitals — the way istioctl's tables read.</summary>
internal sealed class Table
{
    private const int Gap = 3;
    private readonly string[] _headers;
    private readonly List<string[]> _rows = [];

    public Table(params string[] headers) => _headers = headers;

    /// <summary>How many rows were added.</summary>
    public int Count => _rows.Count;

    /// <summary>Adds a row; missing cells print empty, nulls as "-".</summary>
    public void Add(params string?[] cells)
    {
        var row = new string[_headers.Length];
        for (var i = 0; i < row.Length; i++)
        {
            row[i] = i < cells.Length ? cells[i] ?? "-" : string.Empty;
        }

        _rows.Add(row);
    }

    /// <summary>Writes the headers and rows.</summary>
    public void WriteTo(TextWriter writer)
    {
        var widths = new int[_headers.Length];
        for (var i = 0; i < widths.Length; i++)
        {
            widths[i] = _headers[i].Length;
            foreach (var row in _rows)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        WriteRow(writer, _headers, widths);
        foreach (var row in _rows)
        {
            WriteRow(writer, row, widths);
        }
    }

    private static void WriteRow(TextWriter writer, string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            line.Append(cells[i]);
            if (i < cells.Length - 1)
            {
                line.Append(' ', widths[i] - cells[i].Length + Gap);
            }
        }

        writer.WriteLine(line.ToString().TrimEnd());
    }
}
