using Entrupy.Registry;
using Entrupy.Silo.Api;

namespace Entrupy.Silo.Tests;

/// <summary>Registry exceptions map to stable problem kinds with the members a client can act on.</summary>
public sealed class ItemProblemMappingTests
{
    [Fact]
    public void RegistryExceptionsMapToStableKindsWithTheirRuleOrReason()
    {
        var (kind, detail, extensions) = ApiProblems.MapWithExtensions(new InvalidIdentifierException("customer_item_id", "a b", ItemKey.CustomerItemIdRule));
        Assert.Equal((400, "invalid-id"), (kind.Status, kind.Slug));
        Assert.Contains(ItemKey.CustomerItemIdRule, detail);
        Assert.Equal("customer_item_id", extensions!["field"]);
        Assert.Equal(ItemKey.CustomerItemIdRule, extensions["rule"]);

        Assert.Equal((400, "invalid-request"), Kind(new InvalidCustodyEventException("biz_step", "x", "bizStep must be a CBV 2.0 business step")));
        Assert.Equal((400, "invalid-request"), Kind(new RegistryValidationException("captured_at", null, "captured_at is required")));
        Assert.Equal((404, "not-found"), Kind(new RegistryNotFoundException("no registration")));
        Assert.Equal((409, "conflict"), Kind(new RegistryConflictException("already linked")));
        Assert.Equal((409, "item-linked"), Kind(new ItemLinkedException("t/a", "b")));

        var tampered = ApiProblems.MapWithExtensions(new CustodyChainTamperedException("ten_1/item", 2, "urn:uuid:x", "does not match its hash"));
        Assert.Equal((500, "custody-chain-tampered"), (tampered.Kind.Status, tampered.Kind.Slug));
        Assert.Equal(2, tampered.Extensions!["sequence"]);
        Assert.DoesNotContain("ten_1", tampered.Detail); // the grain key is internal

        // A fan-out failure is reported by what failed inside it.
        Assert.Equal((404, "not-found"), Kind(new AggregateException(new RegistryNotFoundException("gone"))));

        // New kinds come after the generic ones, so a bare status still maps to the generic kind.
        Assert.Equal("idempotency-conflict", ApiErrorKind.ForStatus(422).Slug);
        Assert.Equal("conflict", ApiErrorKind.ForStatus(409).Slug);
        Assert.Equal("internal", ApiErrorKind.ForStatus(500).Slug);
        Assert.Equal(ApiErrorKind.All.Count, ApiErrorKind.All.Select(k => k.Type).Distinct().Count());
    }

    private static (int, string) Kind(Exception e)
    {
        var (kind, _) = ApiProblems.Map(e);
        return (kind.Status, kind.Slug);
    }
}
