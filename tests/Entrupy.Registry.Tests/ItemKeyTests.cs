namespace Entrupy.Registry.Tests;

public sealed class ItemKeyTests
{
    [Theory]
    [InlineData("acme", "SKU-1")]
    [InlineData("t.1_x", "a:b.c_d-e")]
    [InlineData("T", "_x")]
    public void Valid_ids_build_and_parse_back(string tenant, string item)
    {
        var key = ItemKey.Create(tenant, item);
        Assert.Equal($"{tenant}/{item}", key.ToString());
        Assert.Equal(key, ItemKey.Parse(key.ToString()));
        Assert.True(ItemKey.TryParse(key.ToString(), out var parsed));
        Assert.Equal(item, parsed!.Value.CustomerItemId);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("has space")]
    [InlineData("emoji-😀")]
    [InlineData("line\n")]
    public void Invalid_customer_item_ids_are_rejected_quoting_the_rule(string item)
    {
        var ex = Assert.Throws<InvalidIdentifierException>(() => ItemKey.Create("acme", item));
        Assert.Equal("customer_item_id", ex.Field);
        Assert.Contains(ItemKey.CustomerItemIdRule, ex.Message);
        Assert.False(ItemKey.TryParse("acme/" + item, out _));
    }

    [Fact]
    public void Length_limit_is_128_for_items_and_64_for_tenants()
    {
        ItemKey.Create(new string('t', 64), new string('a', 128));
        Assert.Throws<InvalidIdentifierException>(() => ItemKey.Create("acme", new string('a', 129)));
        var tenant = Assert.Throws<InvalidIdentifierException>(() => ItemKey.Create(new string('t', 65), "x"));
        Assert.Contains(ItemKey.TenantIdRule, tenant.Message);
        Assert.Throws<InvalidIdentifierException>(() => ItemKey.Create("-acme", "x"));
        Assert.Throws<InvalidIdentifierException>(() => ItemKey.Create("ac:me", "x"));
        Assert.Throws<InvalidIdentifierException>(() => ItemKey.Parse("no-slash"));
    }

    [Fact]
    public void Cbv_values_normalise_from_bare_web_uri_and_urn_forms()
    {
        Assert.Equal("shipping", CbvVocabulary.NormalizeBizStep("shipping"));
        Assert.Equal("shipping", CbvVocabulary.NormalizeBizStep("https://ref.gs1.org/cbv/BizStep-shipping"));
        Assert.Equal("retail_selling", CbvVocabulary.NormalizeBizStep("urn:epcglobal:cbv:bizstep:retail_selling"));
        Assert.Equal("mismatch_instance", CbvVocabulary.NormalizeDisposition("https://ref.gs1.org/cbv/Disp-mismatch_instance"));
        var returning = Assert.Throws<InvalidCustodyEventException>(() => CbvVocabulary.NormalizeBizStep("returning"));
        Assert.Contains(CbvVocabulary.BizStepRule, returning.Message);
        Assert.Throws<InvalidCustodyEventException>(() => CbvVocabulary.NormalizeBizStep("Shipping"));
        Assert.Throws<InvalidCustodyEventException>(() => CbvVocabulary.NormalizeBizStep("https://ref.gs1.org/cbv/Disp-shipping"));
        Assert.Throws<InvalidCustodyEventException>(() => CbvVocabulary.NormalizeDisposition("shipping"));
    }

    [Theory]
    [InlineData("urn:epc:id:sgln:0614141.07346.1234", true)]
    [InlineData("urn:epc:id:sgln:0614141.0734.1234", false)]   // 11 digits, not 12
    [InlineData("https://stores.example.com/loc/1", true)]
    [InlineData("http://stores.example.com/loc/1", false)]
    [InlineData("warehouse 5", false)]
    [InlineData("https://stores.example.com/\"quoted\"", false)]
    [InlineData("https://exämple.com/loc", false)]
    [InlineData("https://xn--exmple-cua.com/loc%C3%A4", true)]
    public void Location_ids_must_be_sgln_or_https(string id, bool valid) =>
        Assert.Equal(valid, EpcisIdentifiers.IsValidLocationId(id));

    [Theory]
    [InlineData("urn:epc:id:sgtin:0614141.107346.2017", true)]
    [InlineData("urn:epc:id:sgtin:0614141.10734.2017", false)]
    [InlineData("https://id.gs1.org/01/09520123456788/21/12345", true)]
    public void Item_epcs_must_be_sgtin_or_https(string epc, bool valid) =>
        Assert.Equal(valid, EpcisIdentifiers.IsValidItemEpc(epc));
}
