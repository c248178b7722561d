using Bookinfo.Details;
using Bookinfo.Gateway;
using Bookinfo.Hosting;
using Bookinfo.Launcher;
using Bookinfo.Productpage;
using Bookinfo.Ratings;
using Bookinfo.Reviews;

if (args is [] or ["--help" or "-h"])
{
    Console.WriteLine(ServiceArguments.Usage);
    return args is [] ? 2 : 0;
}

if (args[0] == "launch")
{
    return await BookinfoLauncher.RunAsync(args[1..]);
}

if (ServiceArguments.Parse(args, out var error) is not { } service)
{
    await Console.Error.WriteLineAsync("bookinfo: " + error);
    await Console.Error.WriteLineAsync(ServiceArguments.Usage);
    return 2;
}

if (service.Role == "gateway")
{
    return await IngressGateway.RunAsync(service);
}

var builder = BookinfoServer.CreateBuilder(service);
switch (service.Role)
{
    case "productpage":
        // Every call goes through the mesh: the xds:/// address names the service, the control plane says where it is.
        builder.Services.AddGrpcClient<Details.DetailsClient>(o => o.Address = new Uri("xds:///details:9080"));
        builder.Services.AddGrpcClient<Reviews.ReviewsClient>(o => o.Address = new Uri("xds:///reviews:9080"));
        builder.Services.AddTransient<ProductPage>();
        break;
    case "reviews":
        builder.Services.AddGrpc();
        builder.Services.AddGrpcClient<Ratings.RatingsClient>(o => o.Address = new Uri("xds:///ratings:9080"));
        break;
    default:
        builder.Services.AddGrpc();
        break;
}

var app = builder.Build();
switch (service.Role)
{
    case "productpage":
        ProductPage.Map(app);
        break;
    case "details":
        app.MapGrpcService<DetailsService>();
        break;
    case "reviews":
        app.MapGrpcService<ReviewsService>();
        break;
    case "ratings":
        app.MapGrpcService<RatingsService>();
        break;
}

return await BookinfoServer.RunAsync(app, service);
